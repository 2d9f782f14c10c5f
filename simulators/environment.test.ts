import { describe, expect, it } from 'vitest';
import { createEnvironment } from './environment.ts';
import { SimulatorError } from './errors.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('environment', () => {
  it('answers the same whatever order it is asked in (lazy integration on a fixed grid)', () => {
    const start = Date.UTC(2024, 2, 1);
    const a = createEnvironment({ hub: 'h', seed: 1, startMs: start });
    const b = createEnvironment({ hub: 'h', seed: 1, startMs: start });
    const late = start + 9 * DAY + 7 * 60_000;
    b.state(late); // b integrates ahead first
    for (const t of [start + HOUR, start + 3 * DAY + 150_000, late]) {
      expect(b.state(t)).toEqual(a.state(t));
      expect(b.airTemperature(t)).toBe(a.airTemperature(t));
      expect(b.rainfall(t - DAY, t)).toBe(a.rainfall(t - DAY, t));
    }
  });

  it('adds rainfall up across adjoining intervals, and brings a plausible annual total', () => {
    const env = createEnvironment({ hub: 'h', seed: 7, startMs: Date.UTC(2024, 0, 1) });
    const t0 = Date.UTC(2024, 0, 1);
    let sum = 0;
    for (let t = t0; t < t0 + 30 * DAY; t += 300_000) sum += env.rainfall(t, t + 300_000);
    expect(sum).toBeCloseTo(env.rainfall(t0, t0 + 30 * DAY), 6);
    const year = env.rainfall(t0, t0 + 365 * DAY);
    expect(year).toBeGreaterThan(700);
    expect(year).toBeLessThan(1600);
  });

  it('places the sun right for the default hub (54.15 N, 2.05 W)', () => {
    const env = createEnvironment({ hub: 'h', seed: 1, startMs: Date.UTC(2024, 5, 21) });
    const st = env.sunTimes(Date.UTC(2024, 5, 21, 12));
    const utcHours = (ms: number): number => (ms - Date.UTC(2024, 5, 21)) / HOUR;
    expect(utcHours(st.solarNoonMs)).toBeGreaterThan(12.05);
    expect(utcHours(st.solarNoonMs)).toBeLessThan(12.25);
    expect(utcHours(st.sunriseMs)).toBeGreaterThan(3.2);
    expect(utcHours(st.sunriseMs)).toBeLessThan(4);
    expect(st.dayLengthH).toBeGreaterThan(16.5);
    const noon = env.sun(st.solarNoonMs);
    expect(noon.elevationDeg).toBeCloseTo(90 - 54.15 + 23.44, 0);
    expect(noon.azimuthDeg).toBeGreaterThan(175);
    expect(noon.azimuthDeg).toBeLessThan(185);
    expect(env.sun(Date.UTC(2024, 5, 21, 0)).elevationDeg).toBeLessThan(0);
  });

  it('is warmer in July than in January, and warmer mid-afternoon than before dawn', () => {
    const env = createEnvironment({ hub: 'h', seed: 3, startMs: Date.UTC(2024, 0, 1) });
    const monthMean = (m: number): number => {
      let s = 0;
      for (let d = 0; d < 28; d++) for (let h = 0; h < 24; h++) s += env.airTemperature(Date.UTC(2024, m, d + 1, h));
      return s / (28 * 24);
    };
    expect(monthMean(6) - monthMean(0)).toBeGreaterThan(8);
    let afternoon = 0;
    let dawn = 0;
    for (let d = 0; d < 60; d++) {
      afternoon += env.airTemperature(Date.UTC(2024, 3, d + 1, 15));
      dawn += env.airTemperature(Date.UTC(2024, 3, d + 1, 4));
    }
    expect((afternoon - dawn) / 60).toBeGreaterThan(3);
  });

  it('runs the hub battery within its capacity', () => {
    const env = createEnvironment({ hub: 'h', seed: 3, startMs: Date.UTC(2024, 3, 1) });
    for (let t = Date.UTC(2024, 3, 1); t < Date.UTC(2024, 4, 1); t += HOUR) {
      const b = env.battery(t);
      expect(b.socPct).toBeGreaterThanOrEqual(0);
      expect(b.socPct).toBeLessThanOrEqual(100);
    }
  });

  it('refuses times before its spin-up and invalid parameters, with codes', () => {
    const env = createEnvironment({ hub: 'h', seed: 1, startMs: Date.UTC(2024, 0, 20) });
    expect(() => env.state(Date.UTC(2023, 11, 1))).toThrow(expect.objectContaining({ code: 'SIM_ERR_TIME' }));
    expect(() => createEnvironment({ hub: 'h', seed: 1, startMs: 0, params: { latitude: 91 } })).toThrow(SimulatorError);
    expect(() => createEnvironment({ hub: 'h', seed: 1, startMs: 0, params: { soil: { wiltingPointMm: 200 } } })).toThrow(
      expect.objectContaining({ code: 'SIM_ERR_CONFIG' }),
    );
    expect(() => createEnvironment({ hub: 'h', seed: 1, startMs: 0, scenario: 'zombies' })).toThrow(
      expect.objectContaining({ code: 'SIM_ERR_UNKNOWN_SCENARIO' }),
    );
  });
});
