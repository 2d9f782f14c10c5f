/**
 * The pieces every rule file shares: durations, selectors, the common rule fields, aggregation,
 * webhook receivers and the file's top level. Each rule kind (rules/kinds/<kind>.ts) extends
 * `ruleBase` with its own fields. All schemas are strict: an unknown key is an error that names it.
 */
import nodeCron from 'node-cron';
import { z } from 'zod';
import { metricDef } from '../core/catalogue.ts';
import { DOMAINS, ID_PATTERN } from '../core/ids.ts';
import { SEVERITIES } from '../core/alert.ts';
import { parseDuration } from '../core/duration.ts';

export { SEVERITIES, type Severity } from '../core/alert.ts';

/** A duration string (`15m`, `7d`, `1h30m`), parsed to milliseconds. */
export const durationSchema = z.string({ error: 'must be a duration like 7d' }).transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration like 7d' });
    return z.NEVER;
  }
  return ms;
});

/** A duration that must be more than zero. */
export const positiveDurationSchema = durationSchema.refine((ms) => ms > 0, 'must be longer than 0s');

/** Hub, sensor and site selectors: one id, a list of ids, or `*` (any). Parsed to a list or `*`. */
export const idListSchema = z.unknown().transform((v, ctx): '*' | string[] => {
  const bad = (message: string): never => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (v === '*') return '*';
  if (typeof v === 'string') return ID_PATTERN.test(v) ? [v] : bad(`"${v}" is not an id (must match ^[a-z0-9][a-z0-9_-]{0,63}$), a list of ids or '*'`);
  if (Array.isArray(v) && v.length > 0) {
    for (const x of v) if (typeof x !== 'string' || !ID_PATTERN.test(x)) return bad(`${JSON.stringify(x)} is not an id (must match ^[a-z0-9][a-z0-9_-]{0,63}$)`);
    return [...new Set(v as string[])];
  }
  return bad("must be an id, a non-empty list of ids, or '*'");
});

/** A metric name from the catalogue (core/catalogue.ts). */
export const metricSchema = z.string({ error: 'must be a metric name from the catalogue' }).refine((n) => metricDef(n) !== undefined, {
  error: (iss) => `unknown metric ${JSON.stringify(iss.input)} (the catalogue in core/catalogue.ts lists the metric names)`,
});

export const domainSchema = z.enum(DOMAINS, { error: `must be one of ${DOMAINS.join(', ')}` });
/** One domain or a list of domains; parsed to a list. */
export const domainListSchema = z.union([domainSchema.transform((d) => [d]), z.array(domainSchema).min(1)], { error: `must be one of ${DOMAINS.join(', ')}, or a list of them` });
export const severitySchema = z.enum(SEVERITIES, { error: 'must be one of info, warning, critical' });

/** A node-cron expression (5 fields, or 6 with seconds first). */
export const cronSchema = z.string({ error: 'must be a cron expression like "* * * * *"' }).refine((s) => nodeCron.validate(s), {
  error: (iss) => `${JSON.stringify(iss.input)} is not a cron expression (5 fields "min hour day month weekday", or 6 with seconds first)`,
});

/** Which readings a rule reads. Omitted hub/sensor/site mean any. */
export const selectorSchema = z.strictObject({
  hub: idListSchema.optional(),
  domain: domainListSchema.optional(),
  sensor: idListSchema.optional(),
  site: idListSchema.optional(),
  metric: metricSchema.optional(),
});
export type Selector = z.output<typeof selectorSchema>;

export const AGGREGATE_FNS = ['sum', 'mean', 'min', 'max'] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

/**
 * Aggregation across the sensors of a site or hub before the kind applies: one alert per group
 * instead of one per sensor.
 */
export const aggregateSchema = z.strictObject({
  fn: z.enum(AGGREGATE_FNS, { error: 'must be one of sum, mean, min, max' }).default('mean'),
  by: z.enum(['site', 'hub'], { error: 'must be site or hub' }).default('hub'),
  /** Windowed kinds: bucket width across which member values are combined (default: window / 60). */
  step: positiveDurationSchema.optional(),
  /** Instant values (threshold): a member whose newest reading is this much older than the group's newest is left out. */
  stale: positiveDurationSchema.default(3_600_000),
});
export type Aggregate = z.output<typeof aggregateSchema>;

/** Fields every rule has, whatever its kind. */
export const ruleBaseShape = {
  id: z.string({ error: 'is required' }).regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9_-]{0,63}$ (it becomes an MQTT topic level)'),
  /** What the alert is about, in words, e.g. "Aquifer" (defaults from the metric). */
  title: z.string().min(1).max(80).optional(),
  description: z.string().max(2000).optional(),
  severity: severitySchema.default('warning'),
  select: selectorSchema.prefault({}),
  aggregate: aggregateSchema.optional(),
  /** The condition must hold this long (sensor time) before the alert fires; pending until then. */
  for: durationSchema.default(0),
  /** Notify a firing, unacknowledged alert again after this long (wall clock); 0s = never. */
  renotify: durationSchema.default(4 * 3_600_000),
  /** Webhook receivers (by name, declared under `webhooks:` in any rule file) besides MQTT. */
  webhooks: z.array(z.string().regex(ID_PATTERN, 'must be the name of a webhook')).default([]),
  /** Also publish to the regional topic (default: critical depletion alerts only). */
  escalate: z.boolean().optional(),
  labels: z.record(z.string().regex(ID_PATTERN, 'label names must be ids'), z.string().max(200)).default({}),
  enabled: z.boolean().default(true),
};

/** Windowed kinds also have a schedule. */
export const scheduleShape = {
  /** node-cron expression: when this windowed rule is evaluated (default every minute). */
  schedule: cronSchema.default('* * * * *'),
};

/** Fields of the trend kinds (`rate`, `depletion`): a least-squares fit over a window of sensor time. */
export const trendShape = {
  /** How much recent history the trend is fitted on. */
  window: positiveDurationSchema,
  /** The points must cover at least this much time (default: a quarter of the window). */
  minSpan: durationSchema.optional(),
  /**
   * Trailing moving average applied before the fit (e.g. 1d to remove the daily pumping cycle of a
   * production well, or other daily cycles); levels are then those of the smoothed series.
   */
  smooth: durationSchema.default(0),
};

/** A webhook receiver. */
export const webhookSchema = z.strictObject({
  name: z.string({ error: 'is required' }).regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9_-]{0,63}$'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  headers: z.record(z.string(), z.string()).default({}),
  /** Per attempt. */
  timeout: positiveDurationSchema.default(5000),
  maxAttempts: z.number().int().min(1).max(20).default(6),
  backoff: z
    .strictObject({ initial: positiveDurationSchema.default(500), max: positiveDurationSchema.default(60_000) })
    .prefault({}),
});
export type WebhookConfig = z.output<typeof webhookSchema>;

/** File-level defaults applied to each rule that does not set the field. */
export const defaultsSchema = z.strictObject({
  severity: severitySchema.optional(),
  renotify: z.string().optional(),
  schedule: z.string().optional(),
  webhooks: z.array(z.string()).optional(),
  for: z.string().optional(),
});

/** The top level of a rule file. `rules` are validated one by one (so errors name the rule). */
export const ruleFileSchema = z.strictObject({
  /** Default `select.hub` for the rules of this file (omit in shared files: any hub). */
  hub: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9_-]{0,63}$').optional(),
  defaults: defaultsSchema.optional(),
  webhooks: z.array(z.unknown()).default([]),
  rules: z.array(z.unknown(), { error: 'must be a list of rules' }).default([]),
});

/**
 * Checks that `select.metric` exists; used by kinds that read one metric. A personal metric (one
 * household's demand) must be aggregated, so no alert carries one household's values: rules read
 * the raw tier, before the privacy boundary.
 */
export function requireMetric(rule: { kind: string; select: Selector; aggregate?: Aggregate | undefined }, ctx: z.RefinementCtx): void {
  const m = rule.select.metric;
  if (!m) ctx.addIssue({ code: 'custom', path: ['select', 'metric'], message: `is required for a ${rule.kind} rule` });
  else if (metricDef(m)?.personal && rule.aggregate?.by === undefined)
    ctx.addIssue({ code: 'custom', path: ['select', 'metric'], message: `metric "${m}" is personal: aggregate it (aggregate: { by: site }) so that alerts never carry one household's values` });
}

/** Adds an issue when a metric's domain differs from the selector's domain. */
export function checkDomain(select: Selector, metric: string | undefined, ctx: z.RefinementCtx, path: PropertyKey[]): void {
  const def = metric ? metricDef(metric) : undefined;
  if (def && select.domain && !select.domain.includes(def.domain)) {
    ctx.addIssue({ code: 'custom', path, message: `metric "${metric}" belongs to domain ${def.domain}, not ${select.domain.join(' or ')}` });
  }
}

/** Checks of the trend kinds: a metric of the selected domain (`requireMetric`, `checkDomain`), `minSpan` within the window. */
export function checkTrend(r: { kind: string; select: Selector; aggregate?: Aggregate | undefined; window: number; minSpan?: number | undefined }, ctx: z.RefinementCtx): void {
  requireMetric(r, ctx);
  checkDomain(r.select, r.select.metric, ctx, ['select', 'metric']);
  if (r.minSpan !== undefined && r.minSpan > r.window) ctx.addIssue({ code: 'custom', path: ['minSpan'], message: 'must not be longer than window' });
}
