import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor, round } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import battery from './index.ts';

runSimulatorContract('battery', sensorFactory(battery));

const DAY = 86_400_000;

function run(from: number, days: number, scenario?: string) {
  const environment = createEnvironment({ hub: 'h', seed: 42, startMs: from, ...(scenario ? { scenario } : {}) });
  const sensor = createSensor(battery, { id: 'battery-1', hub: 'h', seed: 3, environment });
  const rows: { t: number; soc: number; wh: number; net: number; modelWh: number; modelSoc: number }[] = [];
  for (let t = from + 300_000; t <= from + days * DAY; t += 300_000) {
    const m = sensor.next(t)[0]?.metrics as Record<string, number>;
    const mid = t - 150_000;
    const model = environment.battery(t);
    rows.push({ t, soc: m.battery_soc ?? NaN, wh: m.battery_energy ?? NaN, net: environment.pvPower(mid) + environment.windPower(mid) - environment.demandPower(mid), modelWh: model.energyWh, modelSoc: model.socPct });
  }
  return rows;
}

describe('battery physics', () => {
  const rows = run(Date.UTC(2024, 4, 1), 30);

  it('stays within 0–100 % and reports energy consistent with the 200 kWh capacity', () => {
    for (const r of rows) {
      // The hub's battery itself never holds less than nothing or more than its capacity (the
      // sensor's clamp is not what keeps it there), and the sensor reports it as it is.
      const at = new Date(r.t).toISOString();
      expect(r.modelWh, at).toBeGreaterThanOrEqual(0);
      expect(r.modelWh, at).toBeLessThanOrEqual(200_000 + 1e-6);
      expect(r.soc, at).toBe(round(r.modelSoc, 1));
      expect(r.wh, at).toBe(round(r.modelWh, 0));
      expect(Math.abs(r.wh - r.soc * 2000)).toBeLessThan(150);
    }
    expect(Math.max(...rows.map((r) => r.soc)) - Math.min(...rows.map((r) => r.soc))).toBeGreaterThan(30);
  });

  it('discharges when demand exceeds generation and charges when generation exceeds demand', () => {
    let down = 0;
    let up = 0;
    for (let i = 1; i < rows.length; i++) {
      const r = rows[i];
      const prev = rows[i - 1];
      if (!r || !prev) continue;
      if (r.net < -2000 && prev.soc > 11) {
        expect(r.wh, new Date(r.t).toISOString()).toBeLessThan(prev.wh);
        down++;
      }
      if (r.net > 2000 && prev.soc < 99) {
        expect(r.wh, new Date(r.t).toISOString()).toBeGreaterThan(prev.wh);
        up++;
      }
    }
    expect(down).toBeGreaterThan(100);
    expect(up).toBeGreaterThan(100);
  });

  it('keeps a 10 % reserve while the grid is up, and drains below it in a grid outage', () => {
    expect(Math.min(...rows.map((r) => r.soc))).toBeGreaterThanOrEqual(9.9);
    const outage = run(Date.UTC(2024, 4, 1), 3, 'grid-outage');
    expect(outage[0]?.soc).toBeGreaterThan(20);
    expect(Math.min(...outage.map((r) => r.soc))).toBeLessThan(5);
  });
});
