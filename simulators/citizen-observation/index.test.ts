import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createEnvironment } from '../environment.ts';
import { fleetEntry } from '../fleet.ts';
import { generate } from '../runner.ts';
import { SENSITIVE_ORCHID } from '../species.ts';
import citizenObservation from './index.ts';

runSimulatorContract('citizen-observation', sensorFactory(citizenObservation));

const DAY = 86_400_000;
const PHONE = /(\+44 ?|0)7700 ?900\d{3}/;
const EMAIL = /[a-z.]+@example\.org/;

describe('citizen-observation', () => {
  const from = Date.UTC(2024, 4, 20); // late May into June: the orchid flowers
  const msgs = [...generate([fleetEntry('citizen-1', 'citizen-observation', 'community')], 42, from, from + 40 * DAY)];

  it('reports a few observations a day, in daylight, more at weekends', () => {
    expect(msgs.length).toBeGreaterThan(40 * 2);
    expect(msgs.length).toBeLessThan(40 * 10);
    const env = createEnvironment({ hub: 'demo', seed: 42, startMs: from });
    expect(msgs.every((m) => env.sun(m.payload.ts).elevationDeg > 0)).toBe(true);
    const weekend = msgs.filter((m) => env.isWeekend(m.payload.ts)).length / (40 * (2 / 7));
    const weekday = msgs.filter((m) => !env.isWeekend(m.payload.ts)).length / (40 * (5 / 7));
    expect(weekend).toBeGreaterThan(1.3 * weekday);
  });

  it('carries personal data: the observer\'s name and email on every record, phones and contact details in some notes', () => {
    expect(msgs.filter((m) => !m.payload.attributes?.observer_name || !EMAIL.test(String(m.payload.attributes?.observer_email)))).toEqual([]);
    expect(msgs.some((m) => PHONE.test(String(m.payload.attributes?.observer_phone)))).toBe(true);
    const notes = msgs.map((m) => m.payload.attributes?.note).filter((n): n is string => typeof n === 'string');
    expect(notes.length).toBeGreaterThan(5);
    expect(notes.some((n) => PHONE.test(n))).toBe(true);
    expect(notes.some((n) => EMAIL.test(n))).toBe(true);
    expect(msgs.every((m) => m.payload.attributes?.method === 'visual')).toBe(true);
  });

  it('records the threatened orchid at its colony with exact coordinates', () => {
    const orchids = msgs.filter((m) => m.payload.species === SENSITIVE_ORCHID);
    expect(orchids.length).toBeGreaterThan(2);
    for (const o of orchids) {
      const loc = o.payload.location;
      expect(loc).toBeDefined();
      expect(String(loc?.lat).split('.')[1]?.length ?? 0).toBeGreaterThanOrEqual(4);
      // All within ~20 m of each other: one colony.
      const first = orchids[0]?.payload.location;
      expect(Math.abs((loc?.lat ?? 0) - (first?.lat ?? 0)) * 111_320).toBeLessThan(20);
      expect(Math.abs((loc?.lon ?? 0) - (first?.lon ?? 0)) * 111_320 * Math.cos((54.15 * Math.PI) / 180)).toBeLessThan(25);
    }
  });

  it('does not report the orchid out of its flowering season', () => {
    const autumn = Date.UTC(2024, 8, 1);
    const out = [...generate([fleetEntry('citizen-1', 'citizen-observation', 'community')], 42, autumn, autumn + 30 * DAY)];
    expect(out.length).toBeGreaterThan(30);
    expect(out.some((m) => m.payload.species === SENSITIVE_ORCHID)).toBe(false);
  });
});
