/**
 * Payload parsing: bytes from a device topic -> validated readings in canonical units, or a
 * RejectionError with a code and a message naming what is wrong. Pure: no I/O, the clock and
 * the sensor's registry entry are passed in.
 */
import type { z } from 'zod';
import { metricDef } from './catalogue.ts';
import { RejectionError } from './errors.ts';
import { type Domain, ID_PATTERN } from './ids.ts';
import { type NativeReading, type Reading, nativeReadingSchema, senmlPackSchema } from './reading.ts';
import { toCanonical } from './units.ts';

export interface ParseContext {
  hub: string;
  domain: Domain;
  sensor: string;
  /** Epoch ms now, for the future-skew check. */
  now: number;
  /** Readings stamped later than now + maxSkewMs are rejected. Default 5 minutes. */
  maxSkewMs?: number;
  /** Payloads larger than this are rejected. Default 64 KiB. */
  maxBytes?: number;
  /**
   * The sensor's registration (`steward sensors add ... --site --kind`). A payload may repeat
   * them but never choose others: a `site` or `kind` in the payload that differs from the
   * registered one (or, when none is registered, from the defaults: the sensor id and the domain)
   * is rejected as `unregistered_id`. Nothing a device invents becomes a tag, column or topic.
   */
  site?: string;
  kind?: string;
  /**
   * Partial acceptance. When set, a metric that fails on its own (unknown, another domain's,
   * unconvertible unit, out of range) is left out of its reading and reported here, once the rest
   * of the message has been accepted; the reading keeps its other metrics. A message left without
   * any metric is refused as a whole, with the first metric's reason. Unset: one bad metric
   * refuses the whole message.
   */
  onMetricRejected?: (rejection: RejectionError) => void;
}

/** The site and kind a reading of this sensor carries: its registration, else the defaults. */
export function registeredIds(ctx: Pick<ParseContext, 'sensor' | 'domain' | 'site' | 'kind'>): { site: string; kind: string } {
  return { site: ctx.site ?? ctx.sensor, kind: ctx.kind ?? ctx.domain };
}

/** Refuses a payload-supplied id that is not the registered one. The message never repeats the value (it may be personal). */
function checkRegisteredId(field: 'site' | 'kind', value: string | undefined, ctx: ParseContext, where = ''): void {
  if (value === undefined) return;
  const registered = registeredIds(ctx)[field];
  if (value !== registered) {
    throw new RejectionError(
      'unregistered_id',
      `${where}${field} in the payload is not the ${field} registered for sensor "${ctx.sensor}" ("${registered}"); omit it, or register the sensor with --${field}`,
    );
  }
}
/** Metric-level rejections collected during one parse, reported only if the message is accepted. */
type Dropped = RejectionError[] | undefined;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses one MQTT payload. Throws RejectionError. A SenML pack may yield several readings. */
export function parsePayload(payload: Uint8Array, ctx: ParseContext): Reading[] {
  const maxBytes = ctx.maxBytes ?? 65536;
  if (payload.byteLength > maxBytes) {
    throw new RejectionError('payload_too_large', `payload is ${payload.byteLength} bytes; the limit is ${maxBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch (cause) {
    throw new RejectionError('invalid_utf8', 'payload is not valid UTF-8', { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new RejectionError('malformed_json', `payload is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const bad = findNonFinite(doc, '');
  if (bad !== undefined) throw new RejectionError('non_finite', `${bad || 'value'} is not a finite number`);
  const dropped: Dropped = ctx.onMetricRejected ? [] : undefined;
  const readings = Array.isArray(doc) ? fromSenml(doc, ctx, dropped) : [fromNative(doc, ctx, dropped)];
  const skew = ctx.maxSkewMs ?? 300_000;
  for (const r of readings) {
    if (r.ts > ctx.now + skew) {
      throw new RejectionError(
        'future_timestamp',
        `timestamp ${new Date(r.ts).toISOString()} is ${Math.round((r.ts - ctx.now) / 1000)} s in the future; the allowed skew is ${Math.round(skew / 1000)} s`,
      );
    }
  }
  for (const d of dropped ?? []) ctx.onMetricRejected?.(new RejectionError(d.code, `${d.message}; left out, the other metrics of the message were accepted`, { cause: d }));
  return readings;
}

/** canonicalMetric, or undefined (the rejection kept in `dropped`) under partial acceptance. */
function metricOrDrop(domain: Domain, name: string, value: number, unit: string | undefined, dropped: Dropped): number | undefined {
  try {
    return canonicalMetric(domain, name, value, unit);
  } catch (e) {
    if (!dropped || !(e instanceof RejectionError)) throw e;
    dropped.push(e);
    return undefined;
  }
}

/** The path (`a.b.0`) of the first number that is not finite (JSON's `1e999` parses as Infinity), '' for the root. */
function findNonFinite(v: unknown, path: string): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path;
  // Paths are built only on the way back from a hit: the common case allocates nothing.
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'number' ? Number.isFinite(x) : !x || typeof x !== 'object') continue;
      const r = findNonFinite(x, path ? `${path}.${k}` : k);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

/** Keys a native reading may have without being checked by the schema itself (see {@link simpleNative}). */
const SIMPLE_KEYS = new Set(['ts', 'seq', 'metrics', 'species', 'site', 'kind']);
/** The epoch-ms bounds of `timestampSchema`. */
const MIN_TS = 946684800000;
const MAX_TS = 4102444800000;

/**
 * The common native reading — epoch-ms `ts`, `seq`, plain numeric metrics and at most `species`,
 * `site`, `kind` — checked without zod, returned as is (a parsed JSON document nobody else holds);
 * undefined for anything else, which `nativeReadingSchema` then decides and, if wrong, explains.
 * It accepts only what the schema accepts, with the same values (a property test holds the two
 * together): it is the schema's fast path for the devices' everyday message, not a second definition.
 */
export function simpleNative(doc: unknown): NativeReading | undefined {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  for (const k in d) if (!SIMPLE_KEYS.has(k)) return undefined;
  const { ts, seq, metrics, species, site, kind } = d;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < MIN_TS || ts > MAX_TS) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) return undefined;
  let n = 0;
  for (const k in metrics) {
    const v = (metrics as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || k === '__proto__') return undefined;
    n++;
  }
  if (n === 0) return undefined;
  if (species !== undefined && (typeof species !== 'string' || species.length < 1 || species.length > 200)) return undefined;
  if (site !== undefined && (typeof site !== 'string' || !ID_PATTERN.test(site))) return undefined;
  if (kind !== undefined && (typeof kind !== 'string' || !ID_PATTERN.test(kind))) return undefined;
  return d as unknown as NativeReading;
}

function describeZod(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

function toEpochMs(ts: string | number): number {
  return typeof ts === 'number' ? ts : Date.parse(ts);
}

/** Validates and converts one metric; throws RejectionError naming the metric. */
function canonicalMetric(domain: Domain, name: string, value: number, unit: string | undefined): number {
  const def = metricDef(name);
  if (!def) throw new RejectionError('unknown_metric', `unknown metric "${name}"`);
  if (def.domain !== domain) {
    throw new RejectionError('wrong_domain', `metric "${name}" belongs to domain "${def.domain}", not "${domain}"`);
  }
  const c = toCanonical(value, unit, def.unit);
  if (!c.ok) throw new RejectionError('unit', `metric "${name}": ${c.reason}`);
  if (c.value < def.min || c.value > def.max) {
    throw new RejectionError('out_of_range', `metric "${name}" = ${c.value} ${def.unit} is outside ${def.min}..${def.max}`);
  }
  if (def.integer && !Number.isInteger(c.value)) {
    throw new RejectionError('out_of_range', `metric "${name}" must be a whole number, got ${c.value}`);
  }
  return c.value;
}

function checkBiodiversity(r: Reading): void {
  if (r.domain === 'biodiversity' && !r.species) {
    throw new RejectionError('schema', 'species: a biodiversity reading must name the species');
  }
  if (r.domain !== 'biodiversity' && r.species !== undefined) {
    throw new RejectionError('schema', `species: only biodiversity readings carry a species, not ${r.domain}`);
  }
}

function fromNative(doc: unknown, ctx: ParseContext, dropped: Dropped): Reading {
  let n = simpleNative(doc);
  if (!n) {
    const parsed = nativeReadingSchema.safeParse(doc);
    if (!parsed.success) throw new RejectionError('schema', describeZod(parsed.error));
    n = parsed.data;
  }
  checkRegisteredId('site', n.site, ctx);
  checkRegisteredId('kind', n.kind, ctx);
  const ids = registeredIds(ctx);
  const metrics: Record<string, number> = {};
  let kept = 0;
  for (const name in n.metrics) {
    const mv = n.metrics[name]!;
    const v = typeof mv === 'number' ? metricOrDrop(ctx.domain, name, mv, undefined, dropped) : metricOrDrop(ctx.domain, name, mv.value, mv.unit, dropped);
    if (v !== undefined) {
      metrics[name] = v;
      kept++;
    }
  }
  if (kept === 0 && dropped?.[0]) throw dropped[0];
  const r: Reading = {
    hub: ctx.hub,
    domain: ctx.domain,
    sensor: ctx.sensor,
    site: ids.site,
    kind: ids.kind,
    ts: toEpochMs(n.ts),
    seq: n.seq,
    metrics,
  };
  if (n.species !== undefined) r.species = n.species;
  if (n.location) r.location = n.location;
  if (n.attributes && Object.keys(n.attributes).length) r.attributes = n.attributes;
  checkBiodiversity(r);
  return r;
}

/** SenML names that carry reading fields rather than metrics. */
const SENML_SPECIAL = new Set(['seq', 'species', 'site', 'kind', 'lat', 'lon', 'alt']);

/**
 * RFC 8428: base fields apply to the records after them [§4.1]; a record's name is bn + n
 * [§4.5.1]; times below 2^28 are relative to now [§4.5.3]; times are seconds. Records at the same
 * resolved time form one reading. The metric is the last `:`/`/`-separated segment of the name.
 */
function fromSenml(doc: unknown[], ctx: ParseContext, dropped: Dropped): Reading[] {
  const parsed = senmlPackSchema.safeParse(doc);
  if (!parsed.success) throw new RejectionError('schema', `SenML: ${describeZod(parsed.error)}`);
  let bn = '';
  let bt = 0;
  let bu: string | undefined;
  let bv = 0;
  const byTime = new Map<number, Reading>();
  for (const [i, rec] of parsed.data.entries()) {
    if (rec.bver !== undefined && rec.bver > 10) throw new RejectionError('schema', `SenML[${i}]: unsupported bver ${rec.bver}`);
    if (rec.bn !== undefined) bn = rec.bn;
    if (rec.bt !== undefined) bt = rec.bt;
    if (rec.bu !== undefined) bu = rec.bu;
    if (rec.bv !== undefined) bv = rec.bv;
    const fullName = bn + (rec.n ?? '');
    const name = fullName.split(/[:/]/).pop() ?? '';
    if (!name) throw new RejectionError('schema', `SenML[${i}]: record has no name`);
    let t = bt + (rec.t ?? 0);
    if (t < 2 ** 28) t += ctx.now / 1000; // relative time
    const ts = Math.round(t * 1000);
    let r = byTime.get(ts);
    if (!r) {
      r = { hub: ctx.hub, domain: ctx.domain, sensor: ctx.sensor, ...registeredIds(ctx), ts, seq: -1, metrics: {} };
      byTime.set(ts, r);
    }
    if (SENML_SPECIAL.has(name)) {
      applySpecial(r, name, rec, i, ctx);
      continue;
    }
    if (rec.v === undefined && rec.bv === undefined) {
      if (rec.vs !== undefined || rec.vb !== undefined || rec.vd !== undefined) {
        throw new RejectionError('schema', `SenML[${i}]: metric "${name}" must have a numeric value (v)`);
      }
      if (rec.s !== undefined) continue; // sum-only record: not part of the catalogue
      throw new RejectionError('schema', `SenML[${i}]: record "${name}" has no value`);
    }
    const v = metricOrDrop(ctx.domain, name, bv + (rec.v ?? 0), rec.u ?? bu, dropped);
    if (v !== undefined) r.metrics[name] = v;
  }
  // Under partial acceptance, a reading whose every metric was left out goes; if none is left, the pack is refused.
  const readings = [...byTime.values()].filter((r) => !dropped?.length || Object.keys(r.metrics).length > 0);
  if (readings.length === 0 && dropped?.[0]) throw dropped[0];
  for (const r of readings) {
    if (Object.keys(r.metrics).length === 0) throw new RejectionError('schema', 'SenML: a reading needs at least one metric');
    checkBiodiversity(r);
  }
  return readings;
}

function applySpecial(r: Reading, name: string, rec: { v?: number | undefined; vs?: string | undefined }, i: number, ctx: ParseContext): void {
  const needNum = (): number => {
    if (rec.v === undefined) throw new RejectionError('schema', `SenML[${i}]: "${name}" needs a numeric value`);
    return rec.v;
  };
  const needStr = (): string => {
    if (rec.vs === undefined) throw new RejectionError('schema', `SenML[${i}]: "${name}" needs a string value (vs)`);
    return rec.vs;
  };
  switch (name) {
    case 'seq': {
      const s = needNum();
      if (!Number.isInteger(s) || s < 0) throw new RejectionError('schema', `SenML[${i}]: seq must be a whole number >= 0`);
      r.seq = s;
      break;
    }
    case 'species':
      r.species = needStr();
      break;
    case 'site':
    case 'kind': {
      const v = needStr();
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(v)) throw new RejectionError('schema', `SenML[${i}]: ${name} must match ^[a-z0-9][a-z0-9_-]{0,63}$`);
      checkRegisteredId(name, v, ctx, `SenML[${i}]: `);
      break;
    }
    default: {
      const v = needNum();
      const loc = r.location ?? { lat: 0, lon: 0 };
      if (name === 'lat' && (v < -90 || v > 90)) throw new RejectionError('out_of_range', `SenML[${i}]: lat ${v} outside -90..90`);
      if (name === 'lon' && (v < -180 || v > 180)) throw new RejectionError('out_of_range', `SenML[${i}]: lon ${v} outside -180..180`);
      (loc as Record<string, number>)[name] = v;
      r.location = loc;
    }
  }
}
