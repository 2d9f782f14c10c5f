import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import solar from './index.ts';

runSimulatorContract('solar', sensorFactory(solar));

const DAY = 86_400_000;

function run(from: number, days: number) {
  const environment = createEnvironment({ hub: 'h', seed: 42, startMs: from });
  const sensor = createSensor(solar, { id: 'pv-1', hub: 'h', seed: 3, environment });
  const rows: { t: number; w: number; elevation: number; noon: number }[] = [];
  for (let t = from + 300_000; t <= from + days * DAY; t += 300_000) {
    rows.push({ t, w: sensor.next(t)[0]?.metrics.pv_power as number, elevation: environment.sun(t).elevationDeg, noon: environment.sunTimes(t).solarNoonMs });
  }
  return { rows, environment };
}

describe('solar physics', () => {
  const { rows } = run(Date.UTC(2024, 5, 1), 30);

  it('produces nothing while the sun is down and something on every day', () => {
    for (const r of rows) if (r.elevation <= 0) expect(r.w).toBe(0);
    for (let d = 0; d < 30; d++) expect(Math.max(...rows.slice(d * 288, d * 288 + 288).map((r) => r.w))).toBeGreaterThan(2000);
  });

  it('peaks near solar noon: on average and on the sunniest day', () => {
    // Average output by minutes from solar noon, in 30-minute bins.
    const bins = new Map<number, { s: number; n: number }>();
    for (const r of rows) {
      const b = Math.round((r.t - r.noon) / 1_800_000);
      const e = bins.get(b) ?? { s: 0, n: 0 };
      e.s += r.w;
      e.n++;
      bins.set(b, e);
    }
    const best = [...bins].sort((a, b) => b[1].s / b[1].n - a[1].s / a[1].n)[0];
    expect(Math.abs((best?.[0] ?? 99) / 2)).toBeLessThanOrEqual(1);
    const days = Array.from({ length: 30 }, (_, d) => rows.slice(d * 288, d * 288 + 288));
    const sunniest = days.sort((a, b) => b.reduce((s, r) => s + r.w, 0) - a.reduce((s, r) => s + r.w, 0))[0] ?? [];
    const peak = sunniest.reduce((a, b) => (b.w > a.w ? b : a));
    expect(Math.abs(peak.t - peak.noon) / 3_600_000).toBeLessThan(1.5);
    expect(peak.w).toBeGreaterThan(0.6 * 60_000); // a clear June noon: most of the 60 kWp array
    expect(peak.w).toBeLessThanOrEqual(60_000);
  });

  it('yields several times more in June than in December', () => {
    const energy = (rs: { w: number }[]): number => rs.reduce((a, r) => a + r.w, 0);
    const winter = run(Date.UTC(2024, 11, 1), 30).rows;
    expect(energy(rows)).toBeGreaterThan(3 * energy(winter));
  });
});
