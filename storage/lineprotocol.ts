/**
 * The storage schema (docs/contract.md "Storage schema", docs/storage.md) as InfluxDB points.
 *
 * One measurement per domain; tags `hub`, `site`, `sensor`, `kind` (allow-listed ids only, so a tag
 * can never end in `\` or carry a per-reading value); fields: the catalogue metrics as floats, `seq`
 * (float), `species` (string), `lat`/`lon` (floats), `policy` (string) and non-personal attributes
 * as `attr_<name>`; timestamp: the sensor's, in ms. Serialisation and escaping are the job of the
 * client's `Point`: lines are never built by hand here.
 *
 * `validateReading` is shared with the embedded store, so both refuse the same inputs.
 */
import { Point, type PointSettings } from '@influxdata/influxdb-client';
import { metricDef } from '../core/catalogue.ts';
import { isDomain, isId } from '../core/ids.ts';
import { StorageError } from './errors.ts';
import type { AlertPoint, EvaluationPoint, PipelinePoint, StoredReading } from '../core/store.ts';

/** Measurement of the pipeline's self-telemetry. */
export const PIPELINE_MEASUREMENT = 'pipeline';

/** Prefix of attribute fields: `attributes.firmware` is stored as field `attr_firmware`. */
export const ATTRIBUTE_PREFIX = 'attr_';

/** Attribute and pipeline field names: lower-case snake case, so they never need escaping. */
const FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** InfluxDB 1.x refuses string fields above 64 KiB. */
const MAX_STRING_BYTES = 65_535;

/** Serialisation settings: timestamps are epoch milliseconds (write with `precision=ms`). */
export const MS_SETTINGS: Partial<PointSettings> = {
  convertTime: (value) => {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    // Every point built here has an integer ms timestamp; anything else is a programming error.
    throw new StorageError('STORAGE_ERR_INVALID_POINT', `timestamp must be integer epoch ms, got ${String(value)}`);
  },
};

function invalid(message: string): never {
  throw new StorageError('STORAGE_ERR_INVALID_POINT', message);
}

function checkTag(name: string, value: unknown): void {
  // An allow-listed id cannot contain a space, comma, equals sign, quote or backslash, and cannot be
  // empty (the client silently drops an empty tag) or end in `\` (InfluxDB refuses the line).
  if (!isId(value)) invalid(`${name} ${JSON.stringify(value)} is not a valid id (^[a-z0-9][a-z0-9_-]{0,63}$)`);
}

function checkString(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') invalid(`${name} must be a string`);
  if (Buffer.byteLength(value) > MAX_STRING_BYTES) invalid(`${name} is longer than ${MAX_STRING_BYTES} bytes`);
}

function checkTimestamp(ts: unknown): void {
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) invalid(`ts ${String(ts)} is not an integer epoch ms`);
}

/**
 * Checks that a reading fits the storage schema: valid ids and domain, an integer ms timestamp, at
 * least one metric, every metric in the catalogue and of the reading's domain, finite numbers,
 * well-formed attribute names. Both stores call it, so they refuse the same readings.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_POINT` naming what is wrong
 */
export function validateReading(r: StoredReading): void {
  if (r === null || typeof r !== 'object') invalid('reading must be an object');
  if (!isDomain(r.domain)) invalid(`domain ${JSON.stringify(r.domain)} is not one of water, soil, energy, biodiversity`);
  checkTag('hub', r.hub);
  checkTag('site', r.site);
  checkTag('sensor', r.sensor);
  checkTag('kind', r.kind);
  checkTimestamp(r.ts);
  if (typeof r.seq !== 'number' || !Number.isFinite(r.seq)) invalid(`seq ${String(r.seq)} is not a finite number`);
  const metrics = r.metrics !== null && typeof r.metrics === 'object' ? Object.entries(r.metrics) : [];
  // A point with no fields would serialise to nothing and be skipped without a word: refuse it.
  if (metrics.length === 0) invalid('reading has no metrics');
  for (const [name, value] of metrics) {
    const def = metricDef(name);
    if (!def) invalid(`metric ${JSON.stringify(name)} is not in the catalogue`);
    if (def.domain !== r.domain) invalid(`metric ${name} belongs to ${def.domain}, not ${r.domain}`);
    if (typeof value !== 'number' || !Number.isFinite(value)) invalid(`metric ${name} is not a finite number`);
  }
  if (r.species !== undefined) checkString('species', r.species);
  if (r.policy !== undefined) checkString('policy', r.policy);
  if (r.location !== undefined) {
    const { lat, lon } = r.location;
    if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) invalid('location.lat is not a latitude');
    if (typeof lon !== 'number' || !Number.isFinite(lon) || lon < -180 || lon > 180) invalid('location.lon is not a longitude');
  }
  if (r.attributes !== undefined) {
    for (const [name, value] of Object.entries(r.attributes)) {
      if (!FIELD_NAME.test(name)) invalid(`attribute name ${JSON.stringify(name)} is not snake_case`);
      if (typeof value === 'string') checkString(`attribute ${name}`, value);
      else if (typeof value === 'number') {
        if (!Number.isFinite(value)) invalid(`attribute ${name} is not a finite number`);
      } else if (typeof value !== 'boolean') invalid(`attribute ${name} must be a string, number or boolean`);
    }
  }
}

/**
 * One reading as one point. Metrics are always float fields, so a metric's type never conflicts
 * between readings (`1` and `1.5` are both floats).
 *
 * @throws StorageError `STORAGE_ERR_INVALID_POINT` (see {@link validateReading})
 */
export function toPoint(r: StoredReading): Point {
  validateReading(r);
  const p = new Point(r.domain).tag('hub', r.hub).tag('site', r.site).tag('sensor', r.sensor).tag('kind', r.kind).timestamp(r.ts);
  for (const [name, value] of Object.entries(r.metrics)) p.floatField(name, value);
  p.floatField('seq', r.seq);
  if (r.species !== undefined) p.stringField('species', r.species);
  if (r.location) p.floatField('lat', r.location.lat).floatField('lon', r.location.lon);
  if (r.policy !== undefined) p.stringField('policy', r.policy);
  for (const [name, value] of Object.entries(r.attributes ?? {})) {
    const field = ATTRIBUTE_PREFIX + name;
    if (typeof value === 'string') p.stringField(field, value);
    else if (typeof value === 'number') p.floatField(field, value);
    else p.booleanField(field, value);
  }
  return p;
}

/**
 * Readings as points, one per reading, in order.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_POINT` at the first reading that does not fit
 */
export function toPoints(readings: StoredReading[]): Point[] {
  return readings.map(toPoint);
}

/**
 * One point as one line of line protocol with a millisecond timestamp.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_POINT` if the point has no measurement or no fields
 *   (the client would return nothing and the point would vanish)
 */
export function toLine(p: Point): string {
  const line = p.toLineProtocol(MS_SETTINGS);
  if (line === undefined) invalid('point has no measurement or no fields');
  return line;
}

/**
 * Readings as lines of line protocol (precision ms), one per reading, in order.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_POINT` at the first reading that does not fit
 */
export function toLines(readings: StoredReading[]): string[] {
  return toPoints(readings).map(toLine);
}

/**
 * Self-telemetry as points of the `pipeline` measurement: tags `role`, `hub` and `kind` (when
 * given), every field a float.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_POINT` for a non-id tag, a malformed field name, a
 *   non-finite value or a point without fields
 */
/** Measurement of alert transitions written by the rules engine. */
export const ALERTS_MEASUREMENT = 'alerts';

/** Alert transitions as points of the `alerts` measurement (ids are allow-listed tags). */
export function alertsToPoints(points: AlertPoint[]): Point[] {
  return points.map((a) => {
    checkTimestamp(a.ts);
    const p = new Point(ALERTS_MEASUREMENT).timestamp(a.ts);
    for (const tag of ['hub', 'rule', 'subject', 'severity', 'kind'] as const) {
      checkTag(tag, a[tag]);
      p.tag(tag, a[tag]);
    }
    p.stringField('state', a.state).stringField('message', a.message);
    if (a.value !== undefined && Number.isFinite(a.value)) p.floatField('value', a.value);
    return p;
  });
}

export const EVALUATIONS_MEASUREMENT = 'rule_evaluations';

/** Rule evaluations as points of the `rule_evaluations` measurement (ids are allow-listed tags, fields finite numbers). */
export function evaluationsToPoints(points: EvaluationPoint[]): Point[] {
  return points.map((e) => {
    checkTimestamp(e.ts);
    const p = new Point(EVALUATIONS_MEASUREMENT).timestamp(e.ts);
    for (const tag of ['hub', 'rule', 'subject', 'kind'] as const) {
      checkTag(tag, e[tag]);
      p.tag(tag, e[tag]);
    }
    const fields = Object.entries(e.fields);
    if (fields.length === 0) invalid('rule evaluation has no fields');
    for (const [name, value] of fields) {
      if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) invalid(`rule evaluation field name ${JSON.stringify(name.slice(0, 64))} is not a plain name`);
      if (typeof value !== 'number' || !Number.isFinite(value)) invalid(`rule evaluation field ${name} is not a finite number`);
      p.floatField(name, value);
    }
    return p;
  });
}

export function pipelineToPoints(points: PipelinePoint[]): Point[] {
  return points.map((pp) => {
    checkTimestamp(pp.ts);
    checkTag('role', pp.role);
    const p = new Point(PIPELINE_MEASUREMENT).tag('role', pp.role).timestamp(pp.ts);
    for (const tag of ['hub', 'kind'] as const) {
      const value = pp[tag];
      if (value === undefined) continue;
      checkTag(tag, value);
      p.tag(tag, value);
    }
    const fields = Object.entries(pp.fields ?? {});
    if (fields.length === 0) invalid('pipeline point has no fields');
    for (const [name, value] of fields) {
      if (!FIELD_NAME.test(name)) invalid(`pipeline field name ${JSON.stringify(name)} is not snake_case`);
      if (typeof value !== 'number' || !Number.isFinite(value)) invalid(`pipeline field ${name} is not a finite number`);
      p.floatField(name, value);
    }
    return p;
  });
}
