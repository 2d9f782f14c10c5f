/**
 * Unit conversion to canonical units. Keys are SenML registry symbols (RFC 8428 §12.1) plus a few
 * common spellings used by field devices. A unit not listed for a metric's canonical unit is
 * rejected with a reason naming both units.
 */

interface Conv {
  factor: number;
  offset?: number;
}

/** canonical unit -> accepted unit -> value_canonical = value * factor + offset. */
const CONVERSIONS: Readonly<Record<string, Readonly<Record<string, Conv>>>> = {
  m: { m: { factor: 1 }, cm: { factor: 0.01 }, mm: { factor: 0.001 }, km: { factor: 1000 }, ft: { factor: 0.3048 } },
  mm: { mm: { factor: 1 }, m: { factor: 1000 }, cm: { factor: 10 }, in: { factor: 25.4 } },
  'm3/s': { 'm3/s': { factor: 1 }, 'l/s': { factor: 0.001 }, 'L/s': { factor: 0.001 }, 'm3/h': { factor: 1 / 3600 } },
  m3: { m3: { factor: 1 }, l: { factor: 0.001 }, L: { factor: 0.001 } },
  NTU: { NTU: { factor: 1 }, FNU: { factor: 1 } },
  'mg/l': { 'mg/l': { factor: 1 }, 'mg/L': { factor: 1 }, 'g/m3': { factor: 1 }, 'kg/m3': { factor: 1000 }, ppm: { factor: 1 } },
  pH: { pH: { factor: 1 } },
  Cel: { Cel: { factor: 1 }, K: { factor: 1, offset: -273.15 }, degC: { factor: 1 } },
  '%': { '%': { factor: 1 }, '/': { factor: 100 } },
  'm3/m3': { 'm3/m3': { factor: 1 }, '/': { factor: 1 }, '%': { factor: 0.01 }, '%VWC': { factor: 0.01 } },
  'umol/m2/s': { 'umol/m2/s': { factor: 1 } },
  W: { W: { factor: 1 }, kW: { factor: 1000 }, MW: { factor: 1e6 } },
  Wh: { Wh: { factor: 1 }, kWh: { factor: 1000 }, MWh: { factor: 1e6 }, J: { factor: 1 / 3600 }, kJ: { factor: 1 / 3.6 } },
  count: { count: { factor: 1 } },
  '/': { '/': { factor: 1 }, '%': { factor: 0.01 } },
};

/** The units values are stored in: every catalogue metric's unit must be one of them. */
export const CANONICAL_UNITS: readonly string[] = Object.freeze(Object.keys(CONVERSIONS));

export type ConvertResult = { ok: true; value: number } | { ok: false; reason: string };

/**
 * Converts `value` from `unit` to `canonical`. `unit` undefined means "already canonical".
 * Rounds away binary noise from the conversion (12 significant digits).
 */
export function toCanonical(value: number, unit: string | undefined, canonical: string): ConvertResult {
  if (unit === undefined || unit === canonical) return { ok: true, value };
  const table = Object.prototype.hasOwnProperty.call(CONVERSIONS, canonical) ? CONVERSIONS[canonical] : undefined;
  const conv = table && Object.prototype.hasOwnProperty.call(table, unit) ? table[unit] : undefined;
  if (!conv) {
    return { ok: false, reason: `unit "${unit}" cannot be converted to the canonical unit "${canonical}"` };
  }
  const v = value * conv.factor + (conv.offset ?? 0);
  return { ok: true, value: Number(v.toPrecision(12)) };
}

/** Units accepted for a canonical unit (for docs and the JSON Schema). */
export function acceptedUnits(canonical: string): string[] {
  return Object.keys(CONVERSIONS[canonical] ?? { [canonical]: 1 });
}
