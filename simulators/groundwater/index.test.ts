import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { fleetEntry } from '../fleet.ts';
import { generate } from '../runner.ts';
import groundwater from './index.ts';

runSimulatorContract('groundwater', sensorFactory(groundwater));

const DAY = 86_400_000;
const WELL = fleetEntry('well-1', 'groundwater', 'wellfield', { pumpRateM3h: 60, drawdownPerM3h: 0.04, schedule: [[5, 8], [17, 20]] });
const RAIN = fleetEntry('rain-1', 'rain-gauge', 'hub-roof');

/** Daily mean level, daily withdrawal and daily rain, by day index from `from`. */
function daily(from: number, days: number, scenario?: string) {
  const out = Array.from({ length: days }, () => ({ level: 0, n: 0, withdrawal: 0, rain: 0 }));
  for (const m of generate([WELL, RAIN], 42, from, from + days * DAY - 1, scenario ? { scenario } : {})) {
    const d = out[Math.floor((m.payload.ts - from) / DAY)];
    if (!d) continue;
    const x = m.payload.metrics as Record<string, number>;
    if (m.sensor === 'well-1') {
      d.level += x.groundwater_level ?? 0;
      d.n++;
      d.withdrawal += x.withdrawal ?? 0;
    } else d.rain += x.rainfall ?? 0;
  }
  return out.map((d) => ({ level: d.level / d.n, withdrawal: d.withdrawal, rain: d.rain }));
}

describe('groundwater physics', () => {
  it('falls at a steady rate through a drought: every day lower, 1–6 cm a day, the pace holding', () => {
    const days = daily(Date.UTC(2024, 5, 1), 40, 'drought');
    const drops = days.slice(1).map((d, i) => (days[i]?.level ?? 0) - d.level);
    expect(days.every((d) => d.rain === 0)).toBe(true);
    for (const drop of drops.slice(1)) {
      expect(drop).toBeGreaterThan(0.01);
      expect(drop).toBeLessThan(0.06);
    }
    const early = drops.slice(1, 11).reduce((a, b) => a + b, 0) / 10;
    const late = drops.slice(-10).reduce((a, b) => a + b, 0) / 10;
    expect(late / early).toBeGreaterThan(0.7);
    expect(late / early).toBeLessThan(1.3);
  });

  it('falls faster in a drought than in normal weather over the same weeks', () => {
    const drought = daily(Date.UTC(2024, 5, 1), 30, 'drought');
    const normal = daily(Date.UTC(2024, 5, 1), 30);
    const fall = (d: { level: number }[]): number => (d[1]?.level ?? 0) - (d[d.length - 1]?.level ?? 0);
    expect(fall(drought)).toBeGreaterThan(1.4 * fall(normal));
  });

  it('recovers after heavy rain in normal weather (winter): the level a few days later is above the level before', () => {
    const days = daily(Date.UTC(2024, 0, 20), 70);
    // The wettest day with at least a week of record before and after it.
    let wettest = 7;
    for (let i = 7; i < days.length - 7; i++) if ((days[i]?.rain ?? 0) > (days[wettest]?.rain ?? 0)) wettest = i;
    expect(days[wettest]?.rain).toBeGreaterThan(10);
    const before = days[wettest - 1]?.level ?? 0;
    const after = Math.max(...days.slice(wettest + 1, wettest + 6).map((d) => d.level));
    expect(after - before).toBeGreaterThan(0.02);
  });

  it('is drawn down while the pump runs and recovers when it stops', () => {
    const from = Date.UTC(2024, 2, 5); // 00:00 local (UTC+0)
    const level = new Map<number, number>();
    for (const m of generate([WELL], 42, from, from + DAY)) level.set((m.payload.ts - from) / 3_600_000, m.payload.metrics.groundwater_level as number);
    const beforePump = level.get(4.75) ?? 0;
    const endOfPumping = level.get(7.75) ?? 0;
    const midday = level.get(12) ?? 0;
    expect(beforePump - endOfPumping).toBeGreaterThan(1.8); // ~2.4 m steady drawdown at 60 m3/h
    expect(Math.abs(midday - beforePump)).toBeLessThan(0.2);
  });

  it('withdraws the scheduled volume each day (6 h × 60 m3/h), 2.5× as long in a drought', () => {
    const normal = daily(Date.UTC(2024, 3, 1), 5);
    const drought = daily(Date.UTC(2024, 3, 1), 5, 'drought');
    for (const d of normal.slice(1)) expect(d.withdrawal).toBeCloseTo(360, 0);
    for (const d of drought.slice(1)) expect(d.withdrawal).toBeCloseTo(900, 0);
  });

  it('reports no withdrawal for an observation well', () => {
    const obs = fleetEntry('obs-1', 'groundwater', 'wellfield', { pumpRateM3h: 0 });
    const first = generate([obs], 1, Date.UTC(2024, 3, 1), Date.UTC(2024, 3, 2)).next();
    expect(first.done).toBe(false);
    expect(first.value?.payload.metrics).not.toHaveProperty('withdrawal');
  });
});
