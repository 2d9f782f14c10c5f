import { describe, expect, it } from 'vitest';
import { METRICS } from './catalogue.ts';
import { acceptedUnits, CANONICAL_UNITS, toCanonical } from './units.ts';

describe('unit conversion', () => {
  it.each([
    [250, 'cm', 'm', 2.5],
    [12, 'l/s', 'm3/s', 0.012],
    [3, 'kW', 'W', 3000],
    [1.5, 'kWh', 'Wh', 1500],
    [3600, 'J', 'Wh', 1],
    [293.15, 'K', 'Cel', 20],
    [0.42, '/', '%', 42],
    [35, '%', 'm3/m3', 0.35],
    [500, 'l', 'm3', 0.5],
  ])('%d %s is %d %s canonical', (v, from, to, want) => {
    expect(toCanonical(v, from, to)).toEqual({ ok: true, value: want });
  });

  it('refuses units that do not measure the same thing, naming both', () => {
    const r = toCanonical(3, 'kWh', 'W');
    expect(r).toEqual({ ok: false, reason: 'unit "kWh" cannot be converted to the canonical unit "W"' });
    expect(toCanonical(1, '__proto__', 'W').ok).toBe(false);
  });

  it('every catalogue unit is in the conversion table, listing itself, and each unit it accepts really converts', () => {
    for (const m of Object.values(METRICS)) {
      // Not the fallback for an unknown unit: the table has a row for it, and the row lists it.
      expect(CANONICAL_UNITS, `${m.name}: ${m.unit}`).toContain(m.unit);
      expect(acceptedUnits(m.unit), `${m.name}: ${m.unit}`).toContain(m.unit);
      for (const u of acceptedUnits(m.unit)) {
        const zero = toCanonical(0, u, m.unit);
        const one = toCanonical(1, u, m.unit);
        if (!zero.ok || !one.ok) throw new Error(`${m.name}: ${u} is listed as accepted for ${m.unit} but does not convert`);
        expect(Number.isFinite(one.value) && one.value - zero.value > 0, `${m.name}: 1 ${u} is more than 0 ${u} in ${m.unit}`).toBe(true);
      }
    }
  });
});
