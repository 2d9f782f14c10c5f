import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createEnvironment } from '../environment.ts';
import { fleetEntry } from '../fleet.ts';
import { generate } from '../runner.ts';
import acousticMonitor from './index.ts';

runSimulatorContract('acoustic-monitor', sensorFactory(acousticMonitor));

const DAY = 86_400_000;
const HOUR = 3_600_000;
const WOOD = fleetEntry('acoustic-wood', 'acoustic-monitor', 'oakwood', { habitat: 'woodland' });
const MIRE = fleetEntry('acoustic-mire', 'acoustic-monitor', 'mire', { habitat: 'wetland', poolSize: 30, detectionsPerDay: 250 });

function detections(from: number, days: number, scenario?: string) {
  return [...generate([WOOD, MIRE], 42, from, from + days * DAY, scenario ? { scenario } : {})];
}

/** Distinct species per sensor per day. */
function richness(msgs: ReturnType<typeof detections>, from: number, sensor: string): number[] {
  const days: Set<string>[] = [];
  for (const m of msgs) {
    if (m.sensor !== sensor) continue;
    const d = Math.floor((m.payload.ts - from) / DAY);
    (days[d] ??= new Set()).add(m.payload.species ?? '');
  }
  return days.map((s) => s.size);
}

describe('acoustic-monitor', () => {
  const may = Date.UTC(2024, 4, 6);
  const spring = detections(may, 7);

  it('hears a realistic number of species a day in spring (10–60 per site)', () => {
    for (const sensor of ['acoustic-wood', 'acoustic-mire']) {
      const r = richness(spring, may, sensor);
      expect(r).toHaveLength(7);
      for (const n of r) {
        expect(n).toBeGreaterThanOrEqual(10);
        expect(n).toBeLessThanOrEqual(60);
      }
    }
  });

  it('peaks in the dawn chorus: the busiest hour is the one around sunrise', () => {
    const env = createEnvironment({ hub: 'demo', seed: 42, startMs: may });
    const perHour = new Map<number, number>();
    for (const m of spring) {
      if (m.sensor !== 'acoustic-wood') continue;
      const sinceSunrise = Math.floor((m.payload.ts - env.sunTimes(m.payload.ts).sunriseMs) / HOUR);
      perHour.set(sinceSunrise, (perHour.get(sinceSunrise) ?? 0) + 1);
    }
    const busiest = [...perHour].sort((a, b) => b[1] - a[1])[0];
    expect(busiest?.[0]).toBeGreaterThanOrEqual(-1);
    expect(busiest?.[0]).toBeLessThanOrEqual(1);
    const middayish = perHour.get(7) ?? 0;
    expect(busiest?.[1]).toBeGreaterThan(2.5 * middayish);
  });

  it('has a few common and many rare species (Zipf-like abundance)', () => {
    const counts = new Map<string, number>();
    const wood = spring.filter((m) => m.sensor === 'acoustic-wood');
    for (const m of wood) counts.set(m.payload.species ?? '', (counts.get(m.payload.species ?? '') ?? 0) + 1);
    const shares = [...counts.values()].map((c) => c / wood.length).sort((a, b) => b - a);
    expect(shares[0]).toBeGreaterThan(0.08);
    expect(shares[0]).toBeLessThan(0.4);
    expect(shares.filter((s) => s < 0.01).length).toBeGreaterThan(shares.length / 4);
  });

  it('reports one detection per reading: the species, a count, a 0.5–0.99 confidence and method "acoustic"', () => {
    const bad = spring.filter((m) => {
      const c = m.payload.metrics.confidence as number;
      const n = m.payload.metrics.count as number;
      return !m.payload.species || m.payload.attributes?.method !== 'acoustic' || c < 0.5 || c > 0.99 || !Number.isInteger(n) || n < 1;
    });
    expect(bad.slice(0, 3)).toEqual([]);
  });

  it('loses species over days under species-decline', () => {
    const msgs = detections(may, 21, 'species-decline');
    const r = richness(msgs, may, 'acoustic-wood');
    const first = (r[0] ?? 0) + (r[1] ?? 0);
    const last = (r[19] ?? 0) + (r[20] ?? 0);
    expect(last).toBeLessThan(0.6 * first);
    const perDay = (d: number): number => msgs.filter((m) => m.sensor === 'acoustic-wood' && Math.floor((m.payload.ts - may) / DAY) === d).length;
    expect(perDay(20)).toBeLessThan(0.3 * perDay(0));
  });

  it('hears no summer migrants in January, and frogs at night in spring', () => {
    const jan = Date.UTC(2024, 0, 10);
    const winter = detections(jan, 5);
    expect(winter.some((m) => m.payload.species === 'Phylloscopus trochilus')).toBe(false);
    expect(richness(winter, jan, 'acoustic-wood').every((n) => n >= 5)).toBe(true);
    const april = Date.UTC(2024, 2, 25);
    const frogs = detections(april, 10).filter((m) => m.payload.species === 'Rana temporaria');
    expect(frogs.length).toBeGreaterThan(5);
    const env = createEnvironment({ hub: 'demo', seed: 42, startMs: april });
    const atNight = frogs.filter((m) => env.sun(m.payload.ts).elevationDeg < 0).length;
    expect(atNight / frogs.length).toBeGreaterThan(0.7);
  });
});
