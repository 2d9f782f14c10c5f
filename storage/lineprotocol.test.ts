import { Point } from '@influxdata/influxdb-client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_PATTERN } from '../core/ids.ts';
import { StorageError } from './errors.ts';
import { pipelineToPoints, toLine, toLines, toPoint } from './lineprotocol.ts';
import type { StoredReading } from '../core/store.ts';

// ---------------------------------------------------------------------------------------------
// A small, strict line-protocol parser (InfluxDB 1.x/2.x grammar). It refuses what InfluxDB
// refuses (unescaped '=' in a tag value, a tag value whose trailing '\' swallows the delimiter,
// unterminated strings, duplicate fields, trailing garbage), so a property test built on it
// fails when serialisation lets a value break out of its slot.
// ---------------------------------------------------------------------------------------------

type FieldValue = { type: 'float'; value: number } | { type: 'int' | 'uint'; value: string } | { type: 'string'; value: string } | { type: 'bool'; value: boolean };
interface Parsed {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  ts: string | undefined;
}

class LpError extends Error {}

function parseLineProtocol(body: string): Parsed[] {
  const out: Parsed[] = [];
  let i = 0;
  const n = body.length;
  const fail = (msg: string): never => {
    throw new LpError(`${msg} at ${i}: ${JSON.stringify(body.slice(Math.max(0, i - 20), i + 20))}`);
  };
  // Reads an escaped token up to one of `stops` (unescaped). `escapable`: characters a backslash escapes.
  const token = (stops: string, escapable: string): string => {
    let s = '';
    while (i < n) {
      const c = body[i] as string;
      if (c === '\\' && i + 1 < n && escapable.includes(body[i + 1] as string)) {
        s += body[i + 1];
        i += 2;
        continue;
      }
      if (stops.includes(c)) break;
      if (c === '\n') fail('newline inside a token');
      s += c;
      i++;
    }
    return s;
  };
  while (i < n) {
    if (body[i] === '\n') {
      i++;
      continue;
    }
    const measurement = token(', ', ', ');
    if (!measurement) fail('empty measurement');
    const tags: Record<string, string> = {};
    while (body[i] === ',') {
      i++;
      const k = token('=, ', ',= ');
      if (body[i] !== '=') fail('tag without =');
      i++;
      const v = token(', =', ',= ');
      if (body[i] === '=') fail('unescaped = in tag value');
      if (!k || !v) fail('empty tag key or value');
      if (k in tags) fail(`duplicate tag ${k}`);
      tags[k] = v;
    }
    if (body[i] !== ' ') fail('expected a space before the fields');
    i++;
    const fields: Record<string, FieldValue> = {};
    for (;;) {
      const k = token('=, ', ',= ');
      if (!k || body[i] !== '=') fail('field without key or =');
      i++;
      let v: FieldValue;
      if (body[i] === '"') {
        i++;
        let s = '';
        for (;;) {
          if (i >= n) fail('unterminated string field');
          const c = body[i] as string;
          if (c === '\\' && (body[i + 1] === '"' || body[i + 1] === '\\')) {
            s += body[i + 1];
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else {
            s += c;
            i++;
          }
        }
        v = { type: 'string', value: s };
      } else {
        let raw = '';
        while (i < n && !', \n'.includes(body[i] as string)) raw += body[i++];
        if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) v = { type: 'float', value: Number(raw) };
        else if (/^-?\d+i$/.test(raw)) v = { type: 'int', value: raw.slice(0, -1) };
        else if (/^\d+u$/.test(raw)) v = { type: 'uint', value: raw.slice(0, -1) };
        else if (/^(t|T|true|True|TRUE)$/.test(raw)) v = { type: 'bool', value: true };
        else if (/^(f|F|false|False|FALSE)$/.test(raw)) v = { type: 'bool', value: false };
        else v = fail(`bad field value ${JSON.stringify(raw)}`);
      }
      if (k in fields) fail(`duplicate field ${k}`);
      fields[k] = v;
      if (body[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    let ts: string | undefined;
    if (body[i] === ' ') {
      i++;
      let raw = '';
      while (i < n && body[i] !== '\n') raw += body[i++];
      if (!/^-?\d+$/.test(raw)) fail(`bad timestamp ${JSON.stringify(raw)}`);
      ts = raw;
    }
    if (i < n && body[i] !== '\n') fail('trailing characters');
    out.push({ measurement, tags, fields, ts });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const NASTY = ['a b', 'a,b', 'a=b', 'say "hi"', 'back\\slash', 'ends with \\', '\\', '\\\\', '\\"', 'line\nbreak', '\r\n', ' ,="\\\n', 'x\\\ny', 'tab\there', 'ünïcødé 🐝'];

function reading(over: Partial<StoredReading> = {}): StoredReading {
  return { hub: 'hub-1', domain: 'water', sensor: 'well_3', site: 'north', kind: 'piezometer', ts: 1_700_000_000_123, seq: 7, metrics: { groundwater_level: 12.5 }, ...over };
}

function expectRoundTrip(r: StoredReading, p: Parsed): void {
  expect(p.measurement).toBe(r.domain);
  expect(p.tags).toEqual({ hub: r.hub, site: r.site, sensor: r.sensor, kind: r.kind });
  expect(p.ts).toBe(String(r.ts));
  const expected: Record<string, FieldValue> = { seq: { type: 'float', value: r.seq } };
  for (const [k, v] of Object.entries(r.metrics)) expected[k] = { type: 'float', value: v };
  if (r.species !== undefined) expected.species = { type: 'string', value: r.species };
  if (r.policy !== undefined) expected.policy = { type: 'string', value: r.policy };
  if (r.location) {
    expected.lat = { type: 'float', value: r.location.lat };
    expected.lon = { type: 'float', value: r.location.lon };
  }
  for (const [k, v] of Object.entries(r.attributes ?? {})) {
    expected[`attr_${k}`] = typeof v === 'string' ? { type: 'string', value: v } : typeof v === 'number' ? { type: 'float', value: v } : { type: 'bool', value: v };
  }
  expect(p.fields).toEqual(expected);
}

describe('the test parser is strict', () => {
  it('refuses what InfluxDB refuses', () => {
    expect(() => parseLineProtocol('m,t=a\\ f=1 1')).toThrow(LpError); // trailing \ swallowed the space
    expect(() => parseLineProtocol('m,t=a=b f=1 1')).toThrow(LpError);
    expect(() => parseLineProtocol('m f="x 1')).toThrow(LpError);
    expect(() => parseLineProtocol('m f=1,f=2 1')).toThrow(LpError);
    expect(() => parseLineProtocol('m f=1 1 2')).toThrow(LpError);
    expect(() => parseLineProtocol('m f=abc')).toThrow(LpError);
    expect(() => parseLineProtocol('m,t=a\nb f=1')).toThrow(LpError);
    expect(parseLineProtocol('m,t=a\\ b f="x\ny",g=2i 5\nm g=T')).toHaveLength(2);
  });
});

describe('toLines', () => {
  it('writes one point per reading: domain as measurement, the four id tags, metrics and seq as floats, ms timestamp', () => {
    const r = reading({ metrics: { groundwater_level: 3, river_stage: -1.25 }, seq: 42 });
    const [line] = toLines([r]);
    expect(line).toBe('water,hub=hub-1,kind=piezometer,sensor=well_3,site=north groundwater_level=3,river_stage=-1.25,seq=42 1700000000123');
    const [p] = parseLineProtocol(line as string);
    expect(p?.fields.groundwater_level).toEqual({ type: 'float', value: 3 }); // never 3i: types cannot conflict
    expectRoundTrip(r, p as Parsed);
  });

  it('stores species, policy, coarse location and attributes as fields (attr_ prefix)', () => {
    const r = reading({
      domain: 'biodiversity',
      kind: 'acoustic',
      metrics: { count: 2, confidence: 0.91 },
      species: 'Parus major',
      policy: 'default-1',
      location: { lat: 51.505, lon: -0.095 },
      attributes: { method: 'acoustic', battery_v: 3.7, at_home: false },
    });
    const [p] = parseLineProtocol(toLines([r]).join('\n'));
    expectRoundTrip(r, p as Parsed);
    expect(Object.keys(p?.tags ?? {})).toEqual(['hub', 'kind', 'sensor', 'site']);
  });

  it.each(NASTY)('string fields containing %j never create extra fields, tags or points', (s) => {
    const r = reading({ domain: 'biodiversity', kind: 'camera', metrics: { count: 1 }, species: s, policy: s, attributes: { method: s, firmware: `${s}=1,x=2 y` } });
    const other = reading({ sensor: 'well_4' });
    const parsed = parseLineProtocol(toLines([r, other, r]).join('\n'));
    expect(parsed).toHaveLength(3);
    expectRoundTrip(r, parsed[0] as Parsed);
    expectRoundTrip(other, parsed[1] as Parsed);
    expectRoundTrip(r, parsed[2] as Parsed);
  });

  it('property: any strings in string fields and any valid ids round-trip, one point per reading', () => {
    const id = fc.stringMatching(ID_PATTERN);
    const str = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(...NASTY), fc.string({ unit: fc.constantFrom(' ', ',', '=', '"', '\\', '\n', 'a'), maxLength: 12 }));
    const rd = fc.record({
      hub: id,
      site: id,
      sensor: id,
      kind: id,
      ts: fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
      seq: fc.integer({ min: -1, max: 2 ** 40 }),
      count: fc.double({ noNaN: true, noDefaultInfinity: true }),
      species: str,
      policy: str,
      method: str,
      battery_v: fc.double({ noNaN: true, noDefaultInfinity: true }),
      at_home: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(rd, { minLength: 1, maxLength: 5 }), (rows) => {
        const readings: StoredReading[] = rows.map((x) => ({
          hub: x.hub,
          domain: 'biodiversity',
          site: x.site,
          sensor: x.sensor,
          kind: x.kind,
          ts: x.ts,
          seq: x.seq,
          metrics: { count: x.count },
          species: x.species,
          policy: x.policy,
          attributes: { method: x.method, battery_v: x.battery_v, at_home: x.at_home },
        }));
        const parsed = parseLineProtocol(toLines(readings).join('\n'));
        expect(parsed).toHaveLength(readings.length);
        // -0 serialises as "0": compare numbers by value.
        readings.forEach((r, k) => expectRoundTrip({ ...r, metrics: { count: r.metrics.count || 0 }, attributes: { ...r.attributes, battery_v: (r.attributes?.battery_v as number) || 0 } }, parsed[k] as Parsed));
      }),
      { numRuns: 300 },
    );
  });
});

describe('toPoint refuses what it cannot store safely', () => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof StorageError ? e.code : 'not a StorageError';
    }
    return undefined;
  };

  it.each([
    ['hub', 'ends-with\\'],
    ['hub', 'a b'],
    ['site', 'a,b'],
    ['sensor', 'a=b'],
    ['kind', '"q"'],
    ['kind', ''],
    ['hub', 'UPPER'],
    ['site', 'line\nbreak'],
    ['sensor', 'x'.repeat(65)],
  ] as const)('a %s of %j (not an id) is refused, not emitted', (tag, value) => {
    expect(code(() => toPoint(reading({ [tag]: value })))).toBe('STORAGE_ERR_INVALID_POINT');
  });

  it('property: any non-id in any tag is refused', () => {
    const nonId = fc.string({ maxLength: 70 }).filter((s) => !ID_PATTERN.test(s));
    fc.assert(
      fc.property(fc.constantFrom('hub', 'site', 'sensor', 'kind'), nonId, (tag, value) => {
        expect(() => toPoint(reading({ [tag]: value }))).toThrow(StorageError);
      }),
      { numRuns: 300 },
    );
  });

  it('a reading with no metrics is refused instead of silently vanishing', () => {
    expect(code(() => toPoint(reading({ metrics: {} })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(() => toLines([reading(), reading({ metrics: {} })])).toThrow(/no metrics/);
  });

  it('a point with no fields is refused by toLine (the client would return nothing)', () => {
    expect(new Point('water').tag('hub', 'h').toLineProtocol()).toBeUndefined();
    expect(code(() => toLine(new Point('water').tag('hub', 'h').timestamp(1)))).toBe('STORAGE_ERR_INVALID_POINT');
  });

  it('refuses unknown metrics, metrics of another domain, non-finite values, bad timestamps, bad domains and attribute names', () => {
    expect(code(() => toPoint(reading({ metrics: { no_such_metric: 1 } })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ metrics: { pv_power: 1 } })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ metrics: { groundwater_level: Number.NaN } })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ metrics: { groundwater_level: Infinity } })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ metrics: { __proto__: 1 } as unknown as Record<string, number> })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ ts: 1.5 })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ domain: 'alerts' as never })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ attributes: { 'bad name': 'x' } })))).toBe('STORAGE_ERR_INVALID_POINT');
    expect(code(() => toPoint(reading({ location: { lat: 91, lon: 0 } })))).toBe('STORAGE_ERR_INVALID_POINT');
  });
});

describe('pipelineToPoints', () => {
  it('writes the pipeline measurement with role, hub and kind tags and float fields', () => {
    const lines = pipelineToPoints([
      { ts: 1_700_000_000_000, role: 'ingest', hub: 'h1', kind: 'embedded', fields: { spool_depth: 3, stored: 10 } },
      { ts: 1_700_000_000_001, role: 'broker', fields: { clients: 2 } },
    ]).map(toLine);
    const parsed = parseLineProtocol(lines.join('\n'));
    expect(parsed).toEqual([
      { measurement: 'pipeline', tags: { hub: 'h1', kind: 'embedded', role: 'ingest' }, fields: { spool_depth: { type: 'float', value: 3 }, stored: { type: 'float', value: 10 } }, ts: '1700000000000' },
      { measurement: 'pipeline', tags: { role: 'broker' }, fields: { clients: { type: 'float', value: 2 } }, ts: '1700000000001' },
    ]);
  });

  it('refuses a point without fields, a non-id tag or a non-finite value', () => {
    expect(() => pipelineToPoints([{ ts: 1, role: 'ingest', fields: {} }])).toThrow(StorageError);
    expect(() => pipelineToPoints([{ ts: 1, role: 'in gest', fields: { a: 1 } }])).toThrow(StorageError);
    expect(() => pipelineToPoints([{ ts: 1, role: 'ingest', hub: 'x\\', fields: { a: 1 } }])).toThrow(StorageError);
    expect(() => pipelineToPoints([{ ts: 1, role: 'ingest', fields: { a: Number.NaN } }])).toThrow(StorageError);
  });
});
