import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import wind from './index.ts';

runSimulatorContract('wind', sensorFactory(wind));

function output(from: number, days: number, scenario?: string): number[] {
  const environment = createEnvironment({ hub: 'h', seed: 42, startMs: from, ...(scenario ? { scenario } : {}) });
  const sensor = createSensor(wind, { id: 'wind-1', hub: 'h', seed: 3, environment });
  const out: number[] = [];
  for (let t = from + 300_000; t <= from + days * 86_400_000; t += 300_000) out.push(sensor.next(t)[0]?.metrics.wind_power as number);
  return out;
}

describe('wind physics', () => {
  it('follows a power curve: calm spells at zero, gales capped at the rated 30 kW, a plausible capacity factor', () => {
    const w = output(Date.UTC(2024, 0, 1), 60);
    const cf = w.reduce((a, b) => a + b, 0) / w.length / 30_000;
    expect(cf).toBeGreaterThan(0.15);
    expect(cf).toBeLessThan(0.6);
    expect(w.filter((x) => x === 0).length).toBeGreaterThan(w.length * 0.02);
    expect(Math.max(...w)).toBeLessThanOrEqual(30_000 * 1.05);
    expect(w.filter((x) => x > 25_000).length).toBeGreaterThan(0);
  });

  it('is windier in winter than in summer', () => {
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(output(Date.UTC(2024, 0, 1), 60))).toBeGreaterThan(mean(output(Date.UTC(2024, 5, 1), 60)));
  });

  it('falls becalmed in the grid-outage scenario', () => {
    const w = output(Date.UTC(2024, 0, 1), 5, 'grid-outage');
    expect(Math.max(...w)).toBeLessThan(1000);
  });
});
