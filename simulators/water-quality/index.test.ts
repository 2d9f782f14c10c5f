import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { fleetEntry } from '../fleet.ts';
import { generate } from '../runner.ts';
import waterQuality, { oxygenSaturation } from './index.ts';

runSimulatorContract('water-quality', sensorFactory(waterQuality));

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function series(from: number, days: number, scenario?: string) {
  const rows: { ts: number; m: Record<string, number> }[] = [];
  for (const msg of generate([fleetEntry('wq-1', 'water-quality', 'beck')], 42, from, from + days * DAY, scenario ? { scenario } : {})) {
    rows.push({ ts: msg.payload.ts, m: msg.payload.metrics as Record<string, number> });
  }
  return rows;
}

describe('water-quality physics', () => {
  it('sees turbidity spike after storms: the highest reading is many times the typical one', () => {
    const rows = series(Date.UTC(2024, 0, 20), 45);
    const turb = rows.map((r) => r.m.turbidity ?? 0).sort((a, b) => a - b);
    const median = turb[Math.floor(turb.length / 2)] ?? 0;
    expect(median).toBeLessThan(10);
    expect(turb[turb.length - 1]).toBeGreaterThan(4 * median);
  });

  it('has a diurnal oxygen cycle: afternoons above pre-dawn, in summer', () => {
    const rows = series(Date.UTC(2024, 5, 10), 14);
    const hourOf = (ts: number): number => new Date(ts).getUTCHours();
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const afternoon = mean(rows.filter((r) => hourOf(r.ts) >= 13 && hourOf(r.ts) < 17).map((r) => r.m.dissolved_oxygen ?? 0));
    const predawn = mean(rows.filter((r) => hourOf(r.ts) >= 1 && hourOf(r.ts) < 4).map((r) => r.m.dissolved_oxygen ?? 0));
    expect(afternoon - predawn).toBeGreaterThan(0.5);
  });

  it('holds less oxygen in warm water: a heatwave lowers oxygen and raises water temperature', () => {
    const mean = (rows: { m: Record<string, number> }[], k: string): number => rows.reduce((a, r) => a + (r.m[k] ?? 0), 0) / rows.length;
    const normal = series(Date.UTC(2024, 6, 1), 10).slice(-300);
    const hot = series(Date.UTC(2024, 6, 1), 10, 'heatwave').slice(-300);
    expect(mean(hot, 'water_temperature') - mean(normal, 'water_temperature')).toBeGreaterThan(4);
    expect(mean(hot, 'dissolved_oxygen')).toBeLessThan(mean(normal, 'dissolved_oxygen') - 0.5);
    expect(oxygenSaturation(25)).toBeLessThan(oxygenSaturation(5));
  });

  it('keeps pH and nitrate in a river-like band', () => {
    const rows = series(Date.UTC(2024, 3, 1), 20);
    for (const r of rows) {
      expect(r.m.ph).toBeGreaterThan(6.5);
      expect(r.m.ph).toBeLessThan(8.8);
      expect(r.m.nitrate).toBeGreaterThan(1);
      expect(r.m.nitrate).toBeLessThan(25);
    }
  });
});
