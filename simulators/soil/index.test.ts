import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import soil from './index.ts';

runSimulatorContract('soil', sensorFactory(soil));

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Half-hourly soil readings with the rain that fell in each half hour and the air temperature. */
function run(from: number, days: number, scenario?: string) {
  const environment = createEnvironment({ hub: 'h', seed: 42, startMs: from, ...(scenario ? { scenario } : {}) });
  const sensor = createSensor(soil, { id: 'soil-1', hub: 'h', site: 'meadow', seed: 9, environment });
  const rows: { t: number; rain: number; air: number; m: Record<string, number> }[] = [];
  for (let t = from + 1800_000; t <= from + days * DAY; t += 1800_000) {
    const m = sensor.next(t)[0]?.metrics as Record<string, number>;
    rows.push({ t, rain: environment.rainfall(t - 1800_000, t), air: environment.airTemperature(t), m });
  }
  return rows;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('soil physics', () => {
  it('gets wetter when it rains: moisture rises in the half hour of every heavy shower', () => {
    const rows = run(Date.UTC(2024, 6, 1), 45);
    const showers = rows.map((r, i) => ({ r, i })).filter(({ r, i }) => i > 0 && r.rain >= 3);
    expect(showers.length).toBeGreaterThan(3);
    for (const { r, i } of showers) {
      const before = rows[i - 1]?.m.soil_moisture ?? 0;
      expect(r.m.soil_moisture, `shower of ${r.rain.toFixed(1)} mm at ${new Date(r.t).toISOString()}`).toBeGreaterThan(before + 0.005);
    }
  });

  it('dries out in a drought: moisture falls day after day towards the wilting point', () => {
    const rows = run(Date.UTC(2024, 5, 1), 30, 'drought');
    const daily = Array.from({ length: 30 }, (_, d) => mean(rows.slice(d * 48, d * 48 + 48).map((r) => r.m.soil_moisture ?? 0)));
    expect(daily[29]).toBeLessThan((daily[0] ?? 0) - 0.05);
    expect(daily[29]).toBeLessThan(0.17);
    expect(daily[29]).toBeGreaterThan(0.1); // it does not fall below the wilting point (0.12) by much
    for (let d = 5; d < 30; d++) expect(daily[d]).toBeLessThanOrEqual((daily[d - 1] ?? 0) + 0.002);
  });

  it('damps and delays the daily temperature cycle compared with the air', () => {
    const rows = run(Date.UTC(2024, 6, 10), 10);
    const ranges = (k: 'air' | 'soil'): number[] =>
      Array.from({ length: 10 }, (_, d) => {
        const xs = rows.slice(d * 48, d * 48 + 48).map((r) => (k === 'air' ? r.air : (r.m.soil_temperature ?? 0)));
        return Math.max(...xs) - Math.min(...xs);
      });
    expect(mean(ranges('soil'))).toBeLessThan(0.6 * mean(ranges('air')));
    expect(mean(ranges('soil'))).toBeGreaterThan(0.5);
  });

  it('breathes out more CO2 in summer than in winter, and its carbon stock drifts only slowly', () => {
    const winter = run(Date.UTC(2024, 0, 10), 20);
    const summer = run(Date.UTC(2024, 6, 10), 20);
    expect(mean(summer.map((r) => r.m.co2_flux ?? 0))).toBeGreaterThan(1.5 * mean(winter.map((r) => r.m.co2_flux ?? 0)));
    const soc = summer.map((r) => r.m.soil_organic_carbon ?? 0);
    expect(Math.abs(mean(soc.slice(0, 48)) - mean(soc.slice(-48)))).toBeLessThan(0.05);
    expect(mean(soc)).toBeCloseTo(3.2, 1);
  });
});
