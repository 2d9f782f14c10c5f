import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RejectionError } from '../core/errors.ts';
import { parsePayload } from '../core/parse.ts';
import { createEnvironment } from './environment.ts';
import { GARBAGE_VALUE, createFleetSimulation, demoFleet } from './fleet.ts';
import { generate } from './runner.ts';
import { SCENARIOS, getScenario, resolveModifiers, seasonShiftTo } from './scenarios.ts';
import { simRegistration } from './types.ts';

const DAY = 86_400_000;

describe('scenarios', () => {
  it('registers every scenario file (and nothing else), the baseline first, each described', () => {
    // The registry is the folder: each scenarios/<name>.ts is registered under its file name.
    const files = readdirSync(new URL('./scenarios/', import.meta.url))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'registered.ts')
      .map((f) => f.replace(/\.ts$/, ''));
    expect(Object.keys(SCENARIOS).sort()).toEqual(files.sort());
    expect(Object.keys(SCENARIOS)[0]).toBe('normal');
    expect(Object.keys(SCENARIOS).length).toBeGreaterThanOrEqual(6);
    for (const [name, s] of Object.entries(SCENARIOS)) {
      expect(s.name).toBe(name);
      expect(s.description.length).toBeGreaterThan(20);
    }
    expect(() => getScenario('zombies')).toThrow(expect.objectContaining({ code: 'SIM_ERR_UNKNOWN_SCENARIO' }));
    expect(resolveModifiers(getScenario('drought'), -1).rainFactor).toBe(1); // nothing before it begins
  });

  it('drought: not a drop of rain at the hub', () => {
    const start = Date.UTC(2024, 9, 1);
    const env = createEnvironment({ hub: 'h', seed: 1, startMs: start, scenario: 'drought' });
    const normal = createEnvironment({ hub: 'h', seed: 1, startMs: start });
    expect(normal.rainfall(start, start + 30 * DAY)).toBeGreaterThan(20);
    expect(env.rainfall(start, start + 30 * DAY)).toBe(0);
  });

  it('heatwave: about 10 °C hotter than the same days without it, after a two-day ramp', () => {
    const start = Date.UTC(2024, 6, 1);
    const hot = createEnvironment({ hub: 'h', seed: 1, startMs: start, scenario: 'heatwave' });
    const normal = createEnvironment({ hub: 'h', seed: 1, startMs: start });
    const t = start + 4 * DAY + 14 * 3_600_000;
    expect(hot.dailyMeanTemperature(t) - normal.dailyMeanTemperature(t)).toBeCloseTo(10, 5);
    expect(hot.airTemperature(start + 3_600_000) - normal.airTemperature(start + 3_600_000)).toBeLessThan(2);
  });

  it('a season shift sets the world in another season (December days with July temperatures); seasonShiftTo lands on the asked day', () => {
    const dec = Date.UTC(2024, 11, 4, 12);
    const shift = seasonShiftTo(196, dec);
    expect(shift % DAY).toBe(0);
    expect(shift).toBeGreaterThan(0);
    expect(shift).toBeLessThan(365 * DAY);
    const july = createEnvironment({ hub: 'h', seed: 1, startMs: dec, seasonShiftMs: shift });
    const winter = createEnvironment({ hub: 'h', seed: 1, startMs: dec });
    // Day 196 is mid-July: the height of the northern summer.
    expect(july.season(dec)).toBeGreaterThan(0.95);
    expect(winter.season(dec)).toBeLessThan(-0.5);
    expect(july.dailyMeanTemperature(dec) - winter.dailyMeanTemperature(dec)).toBeGreaterThan(8);
    // The sun keeps the real date.
    expect(july.sunTimes(dec)).toEqual(winter.sunTimes(dec));
    expect(seasonShiftTo(196, Date.UTC(2024, 6, 14, 12))).toBe(0); // already that day
  });

  it('grid-outage: the hub battery runs down', () => {
    const start = Date.UTC(2024, 3, 1);
    const env = createEnvironment({ hub: 'h', seed: 1, startMs: start, scenario: 'grid-outage' });
    expect(env.battery(start + 2 * DAY).socPct).toBeLessThan(env.battery(start).socPct - 20);
  });

  it('sensor-failure: some demo sensors fall silent, freeze or send the -9999 sentinel that ingest rejects', () => {
    const start = Date.UTC(2024, 3, 1);
    const sim = createFleetSimulation({ hub: 'demo', fleet: demoFleet('demo'), seed: 42, startMs: start, scenario: 'sensor-failure' });
    const faults = sim.sensors.filter((s) => s.fault).map((s) => s.fault?.mode);
    expect(faults.length).toBeGreaterThanOrEqual(3);
    expect(faults.length).toBeLessThan(sim.sensors.length);
    const last = new Map<string, { ts: number; values: string }[]>();
    let garbage = 0;
    for (const m of generate(demoFleet('demo'), 42, start, start + 4 * DAY, { scenario: 'sensor-failure' })) {
      if (m.domain === 'biodiversity') continue;
      const list = last.get(m.sensor) ?? [];
      list.push({ ts: m.payload.ts, values: JSON.stringify(m.payload.metrics) });
      last.set(m.sensor, list);
      if (Object.values(m.payload.metrics).includes(GARBAGE_VALUE)) {
        garbage++;
        expect(() =>
          parsePayload(new TextEncoder().encode(JSON.stringify(m.payload)), { hub: 'demo', domain: m.domain, sensor: m.sensor, now: start + 10 * DAY, ...simRegistration(m.payload) }),
        ).toThrow(RejectionError);
      }
    }
    for (const s of sim.sensors) {
      if (s.domain === 'biodiversity' || !s.fault) continue;
      const list = last.get(s.entry.sensor) ?? [];
      const tail = list.filter((r) => r.ts > start + s.fault!.afterMs + 1);
      if (s.fault.mode === 'silent') expect(tail, s.entry.sensor).toEqual([]);
      if (s.fault.mode === 'stuck') expect(new Set(tail.map((r) => r.values)).size, s.entry.sensor).toBe(1);
    }
    if (faults.includes('garbage')) expect(garbage).toBeGreaterThan(0);
  });
});
