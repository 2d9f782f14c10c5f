import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import communityDemand from './index.ts';

runSimulatorContract('community-demand', sensorFactory(communityDemand));

const HOUR = 3_600_000;

/** Mean demand by local hour, separately for weekdays and weekends (the hub clock is UTC+0). */
function profile(from: number, days: number) {
  const environment = createEnvironment({ hub: 'h', seed: 42, startMs: from });
  const sensor = createSensor(communityDemand, { id: 'demand-1', hub: 'h', seed: 3, environment });
  const acc = { weekday: Array.from({ length: 24 }, () => [0, 0]), weekend: Array.from({ length: 24 }, () => [0, 0]) };
  let total = 0;
  let n = 0;
  for (let t = from + 300_000; t <= from + days * 24 * HOUR; t += 300_000) {
    const w = sensor.next(t)[0]?.metrics.demand_power as number;
    const cell = acc[environment.isWeekend(t) ? 'weekend' : 'weekday'][new Date(t).getUTCHours()] as number[];
    cell[0] = (cell[0] ?? 0) + w;
    cell[1] = (cell[1] ?? 0) + 1;
    total += w;
    n++;
  }
  const mean = (k: 'weekday' | 'weekend'): number[] => acc[k].map(([s, c]) => (s ?? 0) / (c ?? 1));
  return { weekday: mean('weekday'), weekend: mean('weekend'), mean: total / n };
}

describe('community-demand physics', () => {
  const spring = profile(Date.UTC(2024, 3, 1), 28);

  it('peaks in the morning and the evening on weekdays, above the small hours', () => {
    const p = spring.weekday;
    expect(p[7]).toBeGreaterThan(1.4 * (p[3] ?? 0));
    expect(p[19]).toBeGreaterThan(1.8 * (p[3] ?? 0));
    expect(p[19]).toBeGreaterThan(p[13] ?? 0);
  });

  it('starts later at weekends', () => {
    expect(spring.weekday[7]).toBeGreaterThan((spring.weekend[7] ?? 0) * 1.1);
    expect(spring.weekend[10]).toBeGreaterThan(spring.weekend[7] ?? 0);
  });

  it('is higher in a cold January than in a mild spring (electric heating)', () => {
    expect(profile(Date.UTC(2024, 0, 1), 28).mean).toBeGreaterThan(1.1 * spring.mean);
  });
});
