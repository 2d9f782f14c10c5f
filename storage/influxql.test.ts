import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { metricsOf } from '../core/catalogue.ts';
import { StorageError } from './errors.ts';
import { fromClause, latestStatements, quoteIdent, quoteString, rangeStatement } from './influxql.ts';
import { checkLatestFilter, normalizeRange } from './queries.ts';

/**
 * InfluxQL's quoted-token scanner (influxql/scanner.go `ScanString`), transcribed: it ends at the
 * opening quote character, refuses a raw newline, and knows the escapes \n \\ \" \'.
 * Returns the value and the rest of the input.
 */
function scanQuoted(input: string): { value: string; rest: string } {
  const quote = input[0];
  let value = '';
  let i = 1;
  for (;;) {
    if (i >= input.length) throw new Error('bad string: unterminated');
    const c = input[i] as string;
    if (c === quote) return { value, rest: input.slice(i + 1) };
    if (c === '\n') throw new Error('bad string: newline');
    if (c === '\\') {
      const d = input[i + 1];
      if (d === 'n') value += '\n';
      else if (d === '\\' || d === '"' || d === "'") value += d;
      else throw new Error(`bad escape \\${d}`);
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
}

describe('quoteIdent / quoteString', () => {
  it('quote the way InfluxQL expects', () => {
    expect(quoteIdent('water')).toBe('"water"');
    expect(quoteIdent('we"ird\\m')).toBe('"we\\"ird\\\\m"');
    expect(quoteString("it's")).toBe("'it\\'s'");
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
    expect(quoteString('two\nlines')).toBe("'two\\nlines'");
    expect(quoteString('say "hi"')).toBe(`'say "hi"'`);
  });

  it('property: any string scans back to itself and nothing follows the closing quote', () => {
    const anyStr = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom("'", '"', '\\', '\n', 'n', ' ', ';') }));
    fc.assert(
      fc.property(anyStr, (s) => {
        for (const quoted of [quoteIdent(s), quoteString(s)]) {
          const { value, rest } = scanQuoted(quoted + ' AND x');
          expect(value).toBe(s);
          expect(rest).toBe(' AND x');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('statements', () => {
  it('latest: one last() per catalogue metric, grouped by the four tags, species for biodiversity', () => {
    const all = latestStatements({});
    expect(all).toHaveLength(metricsOf('water').length + metricsOf('soil').length + metricsOf('energy').length + metricsOf('biodiversity').length);
    const bio = latestStatements({ domain: 'biodiversity', hub: 'h-1', sensor: 'cam_2' });
    expect(bio.map((s) => s.metric)).toEqual(metricsOf('biodiversity').map((d) => d.name));
    expect(bio[0]?.text).toBe(`SELECT last("count") AS "value", "species" FROM "biodiversity" WHERE "hub" = 'h-1' AND "sensor" = 'cam_2' GROUP BY "hub","site","sensor","kind"`);
    expect(latestStatements({ domain: 'water' }, 'one_year')[0]?.text).toBe(`SELECT last("groundwater_level") AS "value" FROM "one_year"."water" GROUP BY "hub","site","sensor","kind"`);
  });

  it('range: raw in time order, or epoch-aligned windows with fill(none)', () => {
    const q = normalizeRange({ sensor: 'well_1', metric: 'groundwater_level', from: 1000, to: 2000 });
    expect(rangeStatement(q)).toBe(`SELECT "groundwater_level" AS "value" FROM "water" WHERE "sensor" = 'well_1' AND time >= 1000ms AND time < 2000ms ORDER BY time ASC LIMIT 10000`);
    const w = normalizeRange({ hub: 'h', sensor: 's', metric: 'pv_power', from: 0, to: 10, windowMs: 60_000, agg: 'max', limit: 5 });
    expect(rangeStatement(w)).toBe(`SELECT max("pv_power") AS "value" FROM "energy" WHERE "hub" = 'h' AND "sensor" = 's' AND time >= 0ms AND time < 10ms GROUP BY time(60000ms) fill(none) LIMIT 5`);
    expect(fromClause('water', 'rp "x"')).toBe('"rp \\"x\\""."water"');
  });

  it('invalid filters and queries are refused before any InfluxQL is built', () => {
    const bad = [
      () => checkLatestFilter({ hub: "x' OR 1=1" }),
      () => checkLatestFilter({ sensor: 'a b' }),
      () => checkLatestFilter({ domain: 'alerts' as never }),
      () => normalizeRange({ sensor: 's', metric: 'nope', from: 0, to: 1 }),
      () => normalizeRange({ sensor: 's"', metric: 'ph', from: 0, to: 1 }),
      () => normalizeRange({ sensor: 's', metric: 'ph', from: 0.5, to: 1 }),
      () => normalizeRange({ sensor: 's', metric: 'ph', from: 0, to: 1, windowMs: 0 }),
      () => normalizeRange({ sensor: 's', metric: 'ph', from: 0, to: 1, windowMs: 1.5 }),
      () => normalizeRange({ sensor: 's', metric: 'ph', from: 0, to: 1, windowMs: 10, agg: 'median' as never }),
      () => normalizeRange({ sensor: 's', metric: 'ph', from: 0, to: 1, limit: 0 }),
      () => normalizeRange({ sensor: 's', metric: 'toString', from: 0, to: 1 }),
    ];
    for (const f of bad) {
      expect(f).toThrow(StorageError);
      try {
        f();
      } catch (e) {
        expect((e as StorageError).code).toBe('STORAGE_ERR_INVALID_QUERY');
      }
    }
  });
});
