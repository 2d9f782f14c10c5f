import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { fleetEntry } from '../fleet.ts';
import { generate } from '../runner.ts';
import river from './index.ts';

runSimulatorContract('river', sensorFactory(river));

const HOUR = 3_600_000;

describe('river physics', () => {
  const from = Date.UTC(2024, 0, 20);
  const to = from + 60 * 24 * HOUR;
  const stage = new Map<number, number>();
  const discharge = new Map<number, number>();
  const rain = new Map<number, number>(); // per 15 minutes
  for (const m of generate([fleetEntry('river-1', 'river', 'beck'), fleetEntry('rain-1', 'rain-gauge', 'roof', { intervalS: 900 })], 42, from, to)) {
    const x = m.payload.metrics as Record<string, number>;
    if (m.sensor === 'river-1') {
      stage.set(m.payload.ts, x.river_stage ?? NaN);
      discharge.set(m.payload.ts, x.discharge ?? NaN);
    } else rain.set(m.payload.ts, x.rainfall ?? 0);
  }
  const times = [...stage.keys()];

  it('rises after a storm, with its peak hours after the heaviest rain', () => {
    // The wettest 6 hours of the record.
    let bestT = times[0] as number;
    let best = 0;
    for (const t of times) {
      let sum = 0;
      for (let k = 0; k < 24; k++) sum += rain.get(t + k * 900_000) ?? 0;
      if (sum > best && t < to - 3 * 24 * HOUR) [best, bestT] = [sum, t];
    }
    expect(best).toBeGreaterThan(8);
    const rainCentre = bestT + 3 * HOUR;
    const before = stage.get(bestT) ?? 0;
    let peakT = bestT;
    for (const t of times) if (t >= bestT && t <= bestT + 48 * HOUR && (stage.get(t) ?? 0) > (stage.get(peakT) ?? 0)) peakT = t;
    expect((stage.get(peakT) ?? 0) - before).toBeGreaterThan(0.05);
    const lagH = (peakT - rainCentre) / HOUR;
    expect(lagH).toBeGreaterThan(2);
    expect(lagH).toBeLessThan(30);
  });

  it('derives discharge from stage through a monotonic rating curve', () => {
    const pairs = times.map((t) => [stage.get(t) ?? 0, discharge.get(t) ?? 0] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < pairs.length; i++) expect((pairs[i]?.[1] ?? 0) + 1e-9).toBeGreaterThanOrEqual(pairs[i - 1]?.[1] ?? 0);
    expect(Math.min(...pairs.map((p) => p[1]))).toBeGreaterThan(0.05); // baseflow keeps the beck running
  });
});
