/**
 * Request schemas of the API (query parameters), built from the contract's zod schemas in core/
 * (what the API answers is core/views.ts), and the JSON Schema documents of the payloads that
 * `steward schema` and `/api/v1/schema/*.json` publish.
 */
import { z } from 'zod';
import { ATTRIBUTES, METRICS } from '../core/catalogue.ts';
import { DOMAINS, idSchema } from '../core/ids.ts';
import { nativeReadingSchema, senmlPackSchema } from '../core/reading.ts';
import { REJECTION_CODES } from '../core/errors.ts';
import { AGGREGATIONS } from '../core/views.ts';

/** Most points one `/api/v1/readings` answer carries (and the most windows a query may ask for). */
export const MAX_POINTS = 10_000;
/** Smallest and largest aggregation window, ms. */
export const MIN_WINDOW_MS = 1_000;
export const MAX_WINDOW_MS = 31 * 86_400_000;

const ISO_LIKE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A point in time in a query string: ISO 8601 (`2024-05-01T12:00:00Z`, `2024-05-01`) or epoch ms. Parsed to epoch ms. */
export const timeParam = z
  .string()
  .describe('ISO 8601 date-time (e.g. 2024-05-01T12:00:00Z) or epoch milliseconds')
  .transform((s, ctx) => {
    const t = /^\d{1,15}$/.test(s) ? Number(s) : ISO_LIKE.test(s) ? Date.parse(s) : NaN;
    if (!Number.isFinite(t)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s.slice(0, 40))} is neither an ISO 8601 date-time nor epoch milliseconds` });
      return z.NEVER;
    }
    return t;
  });

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An aggregation window such as `30s`, `5m`, `1h`, `1d`. Parsed to ms, between 1 s and 31 d. */
export const windowParam = z
  .string()
  .describe('aggregation window: a whole number and a unit (ms, s, m, h, d), e.g. 30s, 5m, 1h, 1d')
  .transform((s, ctx) => {
    const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(s);
    const ms = m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : NaN;
    if (!Number.isFinite(ms)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s.slice(0, 20))} must be a whole number and a unit (ms, s, m, h, d), e.g. 5m` });
    else if (ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS) ctx.addIssue({ code: 'custom', message: `${s} must be between 1s and 31d` });
    else return ms;
    return z.NEVER;
  });

/** Formats a window in ms with the largest unit that divides it (`300000` -> `5m`). */
export function formatWindow(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** Metric names of the catalogue (for `z.enum`). */
export const METRIC_NAMES = Object.keys(METRICS) as [string, ...string[]];

export const metricParam = z.enum(METRIC_NAMES, { error: (iss) => `unknown metric ${JSON.stringify(iss.input)}; see /api/v1/catalogue` }).describe('a metric of the catalogue');
export const hubParam = idSchema.describe('hub id');
export const sensorParam = idSchema.describe('sensor id');
export const domainParam = z.enum(DOMAINS, { error: (iss) => `unknown domain ${JSON.stringify(iss.input)}: one of ${DOMAINS.join(', ')}` }).describe('water, soil, energy or biodiversity');
export const aggParam = z.enum(AGGREGATIONS, { error: (iss) => `unknown aggregation ${JSON.stringify(iss.input)}: one of mean, min, max, sum, last, count` });
export const rejectionCodeParam = z.enum(Object.keys(REJECTION_CODES) as [string, ...string[]], { error: (iss) => `unknown rejection code ${JSON.stringify(iss.input)}` });

/** A positive whole number in a query string. */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

// ---------------------------------------------------------------------------
// Payload JSON Schemas (for technicians and device makers)
// ---------------------------------------------------------------------------

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
}

/**
 * JSON Schema of the native reading (core/reading.ts `nativeReadingSchema`), with the metric and
 * attribute names of the catalogue listed, so a device maker's validator knows them too.
 */
export function readingJsonSchema(): Record<string, unknown> {
  const s = jsonSchemaOf(nativeReadingSchema);
  const props = s.properties as Record<string, Record<string, unknown>>;
  if (props.metrics) {
    props.metrics.propertyNames = { enum: Object.keys(METRICS) };
    props.metrics.description = 'Metric name -> value in its canonical unit, or { value, unit } to be converted. Names and units: GET /api/v1/catalogue';
  }
  if (props.attributes) {
    props.attributes.propertyNames = { enum: Object.keys(ATTRIBUTES) };
    props.attributes.description = 'Known attributes only; personal ones never leave the raw tier';
  }
  return {
    $schema: s.$schema,
    title: 'Steward native reading (v1)',
    description: 'One reading per MQTT message on csm/v1/{hub}/{domain}/{sensor}/data. Generated from core/reading.ts; do not edit.',
    ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema')),
  };
}

/** JSON Schema of a SenML JSON pack (RFC 8428) as ingest accepts it. */
export function senmlJsonSchema(): Record<string, unknown> {
  const s = jsonSchemaOf(senmlPackSchema);
  return {
    $schema: s.$schema,
    title: 'SenML JSON pack (RFC 8428) accepted by Steward',
    description: 'Record names are catalogue metrics; convertible units are converted to canonical ones. Generated from core/reading.ts; do not edit.',
    ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema')),
  };
}

/** The JSON Schema documents `steward schema` writes, by file name. */
export function payloadJsonSchemas(): Record<string, Record<string, unknown>> {
  return { 'reading.json': readingJsonSchema(), 'senml-pack.json': senmlJsonSchema() };
}

/** Query of the latest-readings routes (steward and public). */
export const latestQuerySchema = z.strictObject({ hub: hubParam.optional(), domain: domainParam.optional(), sensor: sensorParam.optional() });

/** Query of the time-series routes (steward and public). */
export const rangeQuerySchema = z.strictObject({
  sensor: sensorParam,
  metric: metricParam,
  hub: hubParam.optional(),
  from: timeParam.optional().describe('start, inclusive (default: 24 h before `to`)'),
  to: timeParam.optional().describe('end, exclusive (default: now)'),
  window: windowParam.optional(),
  agg: aggParam.optional().describe('aggregation per window (default mean); needs `window`'),
  limit: intParam(1, MAX_POINTS).optional().describe(`most points returned (default and maximum ${MAX_POINTS})`),
});

/** Query of the daily species counts route. */
export const speciesQuerySchema = z.strictObject({
  hub: hubParam.optional(),
  site: idSchema.describe('site id').optional(),
  from: timeParam.optional().describe('start, inclusive: days starting at or after it (default: 365 days before `to`)'),
  to: timeParam.optional().describe('end, exclusive (default: now)'),
});


/** Ranges longer than this are answered from the aggregates when `resolution` is `auto`. */
export const RAW_RANGE_MAX_MS = 7 * 86_400_000;
/** `auto` without a window: hourly buckets up to this range, daily beyond. */
export const HOURLY_RANGE_MAX_MS = 92 * 86_400_000;

/**
 * The resolution `auto` picks: raw for ranges up to a week that start while raw readings are kept
 * (exact and fresh); otherwise the coarsest aggregate the window is a whole number of (raw if it is
 * none), or without a window hourly buckets up to ~3 months and daily ones beyond.
 *
 * @param rawSince - epoch ms before which the store has no raw readings (undefined: all kept)
 */
export function autoResolution(from: number, to: number, windowMs: number | undefined, rawSince: number | undefined): 'raw' | '1h' | '1d' {
  const rawKept = rawSince === undefined || from >= rawSince;
  if (to - from <= RAW_RANGE_MAX_MS && rawKept) return 'raw';
  if (windowMs === undefined) return to - from <= HOURLY_RANGE_MAX_MS ? '1h' : '1d';
  if (windowMs % 86_400_000 === 0 && to - from > HOURLY_RANGE_MAX_MS) return '1d';
  if (windowMs % 3_600_000 === 0) return '1h';
  return 'raw';
}

/** Query of the steward time-series route: the public one plus the resolution. */
export const readingsRangeQuerySchema = rangeQuerySchema.extend({
  resolution: z
    .enum(['auto', 'raw', '1h', '1d'], { error: (iss) => `unknown resolution ${JSON.stringify(iss.input)}: one of auto, raw, 1h, 1d` })
    .optional()
    .describe(
      'raw readings, or the hourly (1h) or daily (1d) aggregates kept for years; auto (default): raw up to 7 days (and while raw readings are kept), else the coarsest aggregate the window is a whole number of, or with no window 1h up to 92 days and 1d beyond',
    ),
});

