import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RejectionError } from './errors.ts';
import { parsePayload, simpleNative, type ParseContext } from './parse.ts';
import { nativeReadingSchema } from './reading.ts';

const now = Date.parse('2026-06-01T12:00:00Z');
const water: ParseContext = { hub: 'demo', domain: 'water', sensor: 'well-1', now };
const enc = (x: unknown): Uint8Array => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));

function rejection(payload: Uint8Array, ctx: ParseContext = water): RejectionError {
  try {
    parsePayload(payload, ctx);
  } catch (e) {
    if (e instanceof RejectionError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('native JSON readings', () => {
  it('accepts a reading with ISO or epoch-ms timestamps and fills tags from the registration', () => {
    const [r] = parsePayload(enc({ ts: '2026-06-01T11:59:00Z', seq: 7, metrics: { groundwater_level: 41.2 } }), { ...water, site: 'north-field' });
    expect(r).toMatchObject({ hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north-field', kind: 'water', seq: 7, ts: now - 60_000, metrics: { groundwater_level: 41.2 } });
    const [e] = parsePayload(enc({ ts: now, seq: 8, metrics: { withdrawal: 3 } }), water);
    expect(e?.ts).toBe(now);
  });

  it('converts units to the canonical unit', () => {
    const [r] = parsePayload(enc({ ts: now, seq: 1, metrics: { river_stage: { value: 250, unit: 'cm' }, discharge: { value: 1500, unit: 'l/s' }, water_temperature: { value: 285.15, unit: 'K' } } }), water);
    expect(r?.metrics).toEqual({ river_stage: 2.5, discharge: 1.5, water_temperature: 12 });
  });

  it.each([
    ['malformed JSON', '{"ts": 1, ', 'malformed_json'],
    ['a missing sequence number', { ts: now, metrics: { ph: 7 } }, 'schema'],
    ['a wrong type', { ts: now, seq: 1, metrics: { ph: 'seven' } }, 'schema'],
    ['Infinity from an overflowing literal', '{"ts": 1780000000000, "seq": 1, "metrics": {"ph": 1e999}}', 'non_finite'],
    ['NaN', '{"ts": 1780000000000, "seq": 1, "metrics": {"ph": NaN}}', 'malformed_json'],
    ['an unknown metric', { ts: now, seq: 1, metrics: { magic: 1 } }, 'unknown_metric'],
    ['a metric of another domain', { ts: now, seq: 1, metrics: { pv_power: 100 } }, 'wrong_domain'],
    ['an unconvertible unit', { ts: now, seq: 1, metrics: { discharge: { value: 3, unit: 'kWh' } } }, 'unit'],
    ['an implausible value', { ts: now, seq: 1, metrics: { ph: 15 } }, 'out_of_range'],
    ['a far-future timestamp', { ts: now + 3_600_000, seq: 1, metrics: { ph: 7 } }, 'future_timestamp'],
    ['an unknown attribute (could be personal)', { ts: now, seq: 1, metrics: { ph: 7 }, attributes: { owner: 'x' } }, 'schema'],
    ['an unknown top-level key', { ts: now, seq: 1, metrics: { ph: 7 }, extra: 1 }, 'schema'],
    ['an empty metrics object', { ts: now, seq: 1, metrics: {} }, 'schema'],
    ['a prototype key as metric', '{"ts": 1780000000000, "seq": 1, "metrics": {"__proto__": 1}}', 'schema'],
  ])('rejects %s with a reason', (_name, payload, code) => {
    const e = rejection(enc(payload as never));
    expect(e.code).toBe(code);
    expect(e.message.length).toBeGreaterThan(5);
  });

  it('names the field at fault', () => {
    expect(rejection(enc({ ts: now, seq: 1, metrics: { ph: 'x' } })).message).toMatch(/metrics\.ph/);
    expect(rejection(enc({ ts: now, seq: 1, metrics: { ph: 15 } })).message).toMatch(/"ph" = 15 pH is outside 0\.\.14/);
  });

  it('rejects invalid UTF-8 and oversized payloads', () => {
    expect(rejection(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])).code).toBe('invalid_utf8');
    expect(rejection(Buffer.alloc(70_000, 0x20)).code).toBe('payload_too_large');
  });

  it('requires a species on biodiversity readings and only there', () => {
    const bio: ParseContext = { hub: 'demo', domain: 'biodiversity', sensor: 'am-1', now };
    expect(rejection(enc({ ts: now, seq: 1, metrics: { count: 2 } }), bio).message).toMatch(/species/);
    const [r] = parsePayload(enc({ ts: now, seq: 1, species: 'Turdus merula', metrics: { count: 2, confidence: { value: 87, unit: '%' } } }), bio);
    expect(r).toMatchObject({ species: 'Turdus merula', metrics: { count: 2, confidence: 0.87 } });
    expect(rejection(enc({ ts: now, seq: 1, species: 'x', metrics: { ph: 7 } })).code).toBe('schema');
    expect(rejection(enc({ ts: now, seq: 1, species: 'Turdus merula', metrics: { count: 1.5 } }), bio).code).toBe('out_of_range');
  });
});

describe('SenML readings (RFC 8428)', () => {
  const t = now / 1000;
  it('applies base name, base time and base unit, and converts registry units', () => {
    const pack = [
      { bn: 'urn:dev:demo:pv-1:', bt: t, bu: 'kW', n: 'pv_power', v: 3.2 },
      { n: 'battery_energy', u: 'kWh', v: 12.5 },
      { n: 'seq', v: 41 },
    ];
    const [r] = parsePayload(enc(pack), { hub: 'demo', domain: 'energy', sensor: 'pv-1', now });
    expect(r).toMatchObject({ ts: now, seq: 41, metrics: { pv_power: 3200, battery_energy: 12500 } });
  });

  it('splits records at different times into separate readings, with relative times from now', () => {
    const pack = [
      { bn: 'gw:', n: 'groundwater_level', u: 'm', v: 40, t: -60 },
      { n: 'groundwater_level', u: 'cm', v: 4010, t: 0 },
    ];
    const rs = parsePayload(enc(pack), water);
    expect(rs.map((r) => [r.ts, r.metrics.groundwater_level])).toEqual([
      [now - 60_000, 40],
      [now, 40.1],
    ]);
  });

  it('applies a base value', () => {
    const [r] = parsePayload(enc([{ bv: 100, bt: t, n: 'discharge', u: 'l/s', v: 50 }]), water);
    expect(r?.metrics.discharge).toBeCloseTo(0.15);
  });

  it('rejects unknown units, string values for metrics, and nameless records', () => {
    expect(rejection(enc([{ bt: t, n: 'discharge', u: 'furlong', v: 1 }])).code).toBe('unit');
    expect(rejection(enc([{ bt: t, n: 'discharge', vs: 'high' }])).code).toBe('schema');
    expect(rejection(enc([{ bt: t, v: 1 }])).message).toMatch(/no name/);
    expect(rejection(enc([])).code).toBe('schema');
  });
});

describe('ids a device sends (site, kind) are checked against its registration', () => {
  const t = now / 1000;
  const registered: ParseContext = { ...water, site: 'north-field', kind: 'piezometer' };

  it('accepts a payload that repeats or omits its registered site and kind', () => {
    const [a] = parsePayload(enc({ ts: now, seq: 1, site: 'north-field', kind: 'piezometer', metrics: { ph: 7 } }), registered);
    const [b] = parsePayload(enc({ ts: now, seq: 2, metrics: { ph: 7 } }), registered);
    expect([a?.site, a?.kind, b?.site, b?.kind]).toEqual(['north-field', 'piezometer', 'north-field', 'piezometer']);
    // Without a registered site or kind, the defaults (sensor id, domain) are what it may send.
    const [c] = parsePayload(enc({ ts: now, seq: 3, site: 'well-1', kind: 'water', metrics: { ph: 7 } }), water);
    expect([c?.site, c?.kind]).toEqual(['well-1', 'water']);
  });

  it.each([
    ['a site that is an address', { site: '12-high-street-ab1-2cd' }, registered, 'site'],
    ['a kind chosen to dodge a personal kind', { kind: 'weather' }, { ...water, kind: 'citizen-observation' }, 'kind'],
    ['a site on a sensor registered without one', { site: 'jane-smiths-garden' }, water, 'site'],
    ['a kind on a sensor registered without one', { kind: 'piezometer' }, water, 'kind'],
  ])('rejects %s as unregistered_id, without repeating the value', (_name, extra, ctx, field) => {
    const value = Object.values(extra)[0] as string;
    const e = rejection(enc({ ts: now, seq: 1, metrics: { ph: 7 }, ...extra }), ctx);
    expect(e.code).toBe('unregistered_id');
    expect(e.message).toContain(`${field} in the payload is not the ${field} registered`);
    expect(e.message).not.toContain(value);
  });

  it('checks SenML site and kind records the same way', () => {
    const [r] = parsePayload(enc([{ bt: t, n: 'ph', v: 7 }, { n: 'site', vs: 'north-field' }]), registered);
    expect(r?.site).toBe('north-field');
    const e = rejection(enc([{ bt: t, n: 'ph', v: 7 }, { n: 'site', vs: 'flat-3-22-rue-de-la-paix' }]), registered);
    expect(e.code).toBe('unregistered_id');
    expect(e.message).toMatch(/^SenML\[1\]: site/);
    expect(rejection(enc([{ bt: t, n: 'ph', v: 7 }, { n: 'kind', vs: 'other' }]), registered).code).toBe('unregistered_id');
  });
});

describe('property: ids a device invents never pass', () => {
  const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/);
  it('for any registered site and kind and any ids in a payload: accepted only when they are the registered ones, and the reading carries the registered ones', () => {
    fc.assert(
      fc.property(idArb, idArb, fc.option(idArb, { nil: undefined }), fc.option(idArb, { nil: undefined }), fc.boolean(), (site, kind, sentSite, sentKind, senml) => {
        const ctx: ParseContext = { ...water, site, kind };
        const payload = senml
          ? [{ bt: now / 1000, n: 'ph', v: 7 }, ...(sentSite !== undefined ? [{ n: 'site', vs: sentSite }] : []), ...(sentKind !== undefined ? [{ n: 'kind', vs: sentKind }] : [])]
          : { ts: now, seq: 1, metrics: { ph: 7 }, ...(sentSite !== undefined ? { site: sentSite } : {}), ...(sentKind !== undefined ? { kind: sentKind } : {}) };
        const ok = (sentSite === undefined || sentSite === site) && (sentKind === undefined || sentKind === kind);
        if (ok) {
          const [r] = parsePayload(enc(payload), ctx);
          expect([r?.site, r?.kind]).toEqual([site, kind]);
        } else {
          const e = rejection(enc(payload), ctx);
          expect(e.code).toBe('unregistered_id');
        }
      }),
    );
  });
});

describe('partial acceptance (onMetricRejected)', () => {
  const partial = (): { ctx: ParseContext; dropped: RejectionError[] } => {
    const dropped: RejectionError[] = [];
    return { ctx: { ...water, onMetricRejected: (e) => dropped.push(e) }, dropped };
  };

  it('keeps the valid metrics of a native reading and reports each bad one with its reason', () => {
    const { ctx, dropped } = partial();
    const payload = enc({ ts: now, seq: 3, metrics: { groundwater_level: 41.2, water_temperature: { value: 12, unit: 'furlongs' }, soil_moisture: 30, withdrawal: -5 } });
    const [r] = parsePayload(payload, ctx);
    expect(r?.metrics).toEqual({ groundwater_level: 41.2 });
    expect(dropped.map((d) => d.code)).toEqual(['unit', 'wrong_domain', 'out_of_range']);
    expect(dropped[0]?.message).toMatch(/^metric "water_temperature": .*; left out, the other metrics of the message were accepted$/);
    // Without the option, the same message is refused as a whole.
    expect(rejection(payload).code).toBe('unit');
  });

  it('refuses a message with no valid metric left, with the first reason, and reports nothing else', () => {
    const { ctx, dropped } = partial();
    expect(rejection(enc({ ts: now, seq: 1, metrics: { nope: 1, soil_moisture: 2 } }), ctx).code).toBe('unknown_metric');
    expect(dropped).toEqual([]);
  });

  it('reports nothing when the whole message is refused for another reason', () => {
    const { ctx, dropped } = partial();
    expect(rejection(enc({ ts: now + 3_600_000, seq: 1, metrics: { groundwater_level: 4, nope: 1 } }), ctx).code).toBe('future_timestamp');
    expect(dropped).toEqual([]);
  });

  it('keeps the valid records of a SenML pack', () => {
    const { ctx, dropped } = partial();
    const rs = parsePayload(enc([{ bn: 'urn:dev:well-1:', bt: now / 1000, n: 'seq', v: 4 }, { n: 'groundwater_level', v: 12.5 }, { n: 'discharge', v: 3, u: 'parsecs' }]), ctx);
    expect(rs.map((r) => r.metrics)).toEqual([{ groundwater_level: 12.5 }]);
    expect(dropped.map((d) => d.code)).toEqual(['unit']);
  });
});

describe('the fast path of native readings (simpleNative)', () => {
  // Values near every edge the schema draws: ts bounds and ISO strings, seq sign and integrality,
  // metric value shapes, species length, id patterns, extra and prototype keys.
  // Mostly valid values, so that both sides of the fast path are exercised.
  const often = <T,>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: edge, weight: 1 });
  const tsArb = often(fc.integer({ min: 946684800000, max: 4102444800000 }), fc.oneof(fc.constantFrom(946684799999, 4102444800001, now + 0.5, -1, 2 ** 53, '2026-06-01T12:00:00Z', 'yesterday', null, true), fc.integer()));
  const seqArb = often(fc.nat(), fc.constantFrom(-1, 1.5, 2 ** 53, 2 ** 60, '1', null));
  const number = fc.double({ noNaN: true, noDefaultInfinity: true });
  const metricValue = often(number, fc.oneof(fc.record({ value: number, unit: fc.constantFrom('cm', '', 'm') }), fc.constantFrom('7', null, [], {})));
  const metricsArb = often(
    fc.dictionary(fc.constantFrom('ph', 'groundwater_level', 'x', 'constructor', ''), metricValue, { minKeys: 1, maxKeys: 4 }),
    fc.oneof(fc.constant({}), fc.constant(JSON.parse('{"__proto__": 1}')), fc.constantFrom(null, [], 'ph', 3)),
  );
  const idish = often(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,65}$/), fc.constantFrom('', 'Well', 'a b', 'ü', 5));
  const speciesArb = often(fc.string({ minLength: 1, maxLength: 3 }), fc.constantFrom('', 'x'.repeat(200), 'x'.repeat(201), 5, null));
  const docArb = fc
    .tuple(
      fc.record({ ts: tsArb, seq: seqArb, metrics: metricsArb }, { requiredKeys: [] }),
      fc.record({ species: speciesArb, site: idish, kind: idish }, { requiredKeys: [] }),
      fc.option(fc.record({ location: fc.constant({ lat: 1, lon: 2 }), extra: fc.integer(), __proto__: fc.constant(1) }, { requiredKeys: [] }), { freq: 4 }),
    )
    .map(([core, ids, more]) => ({ ...core, ...ids, ...(more ?? {}) }))
    .map((d) => JSON.parse(JSON.stringify(d)) as unknown);

  it('accepts only what the schema accepts, with the same values', () => {
    fc.assert(
      fc.property(docArb, (doc) => {
        const fast = simpleNative(doc);
        const slow = nativeReadingSchema.safeParse(doc);
        if (fast === undefined) return; // the schema decides
        expect(slow.success).toBe(true);
        expect(fast).toEqual(slow.data);
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the everyday message', () => {
    expect(simpleNative({ ts: now, seq: 3, metrics: { ph: 7, groundwater_level: 12.5 } })).toBeDefined();
    expect(simpleNative({ ts: now, seq: 3, species: 'Erithacus rubecula', site: 'pond-2', metrics: { count: 1 } })).toBeDefined();
    expect(simpleNative({ ts: '2026-06-01T12:00:00Z', seq: 3, metrics: { ph: 7 } })).toBeUndefined();
    expect(simpleNative({ ts: now, seq: 3, metrics: { ph: { value: 7, unit: 'pH' } } })).toBeUndefined();
  });
});
