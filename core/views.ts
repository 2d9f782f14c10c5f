/**
 * What the HTTP API answers, as zod schemas: part of the contract like the reading itself. The
 * routes (api/routes/) use them as response schemas (a field not listed here never leaves the
 * API), the OpenAPI document is generated from them, and the console's page (console/src/types.ts)
 * imports their types, so the server and the page cannot drift apart.
 * Times come twice: epoch milliseconds (`ts`, `lastSeen`, `from`) and ISO 8601 UTC (`time`…).
 */
import { z } from 'zod';
import { ALERT_STATES, SEVERITIES } from './alert.ts';
import { domainSchema } from './ids.ts';

export const isoTime = z.string().describe('ISO 8601, UTC');
export const epochMs = z.number().int().describe('epoch milliseconds');

/** Aggregations of a windowed series. */
export const AGGREGATIONS = ['mean', 'min', 'max', 'sum', 'last', 'count'] as const;

// ---------------------------------------------------------------------------
// Sensors and readings
// ---------------------------------------------------------------------------

/** A registered sensor (`GET /api/v1/sensors`). */
export const sensorSchema = z.object({
  hub: z.string(),
  domain: domainSchema,
  sensor: z.string(),
  site: z.string().nullable(),
  kind: z.string().nullable(),
  lastSeen: epochMs.nullable().describe('time of the newest stored reading, epoch ms'),
  lastSeenTime: isoTime.nullable(),
  online: z.boolean(),
  /** Where `online` comes from: the sensor's MQTT status, or how recent its data is. */
  onlineSource: z.enum(['status', 'recent-data']),
});
export type SensorView = z.output<typeof sensorSchema>;

/** The newest value of one sensor and metric (`/readings/latest`, and the console's stream). */
export const latestReadingSchema = z.object({
  hub: z.string(),
  domain: domainSchema,
  sensor: z.string(),
  site: z.string(),
  kind: z.string(),
  metric: z.string(),
  value: z.number(),
  unit: z.string(),
  ts: epochMs,
  time: isoTime,
  species: z.string().optional(),
});
export type LatestReading = z.output<typeof latestReadingSchema>;

export const pointSchema = z.object({ ts: epochMs, time: isoTime, value: z.number() });

/** One metric of one sensor over time (`/readings`, `/public/readings`). */
export const seriesSchema = z.object({
  hub: z.string().nullable(),
  sensor: z.string(),
  metric: z.string(),
  unit: z.string(),
  from: epochMs,
  fromTime: isoTime,
  to: epochMs,
  toTime: isoTime,
  window: z.string().nullable(),
  agg: z.enum(AGGREGATIONS).nullable(),
  /** What answered: raw readings, or the hourly (`1h`) or daily (`1d`) aggregates kept for years. */
  resolution: z.enum(['raw', '1h', '1d']).describe('raw readings, or the hourly or daily aggregates'),
  /** True when `limit` cut the series short. */
  truncated: z.boolean(),
  points: z.array(pointSchema),
});
export type SeriesView = z.output<typeof seriesSchema>;

/** Species seen at one site on one UTC day (`/readings/species`). */
export const speciesCountSchema = z.object({
  hub: z.string(),
  site: z.string(),
  species: z.string(),
  day: epochMs.describe('start of the UTC day'),
  date: z.string().describe('the UTC day, YYYY-MM-DD'),
  detections: z.number().describe('biodiversity readings of the species that day'),
  individuals: z.number().describe('sum of their count'),
});

/** A message ingest refused, with its raw payload (`/rejections`, technicians only). */
export const rejectionSchema = z.object({
  id: z.number().int(),
  receivedAt: epochMs,
  receivedTime: isoTime,
  topic: z.string(),
  hub: z.string().optional(),
  sensor: z.string().optional(),
  code: z.string(),
  reason: z.string(),
  payload: z.string(),
  payloadEncoding: z.enum(['utf8', 'base64']),
});
export type RejectionView = z.output<typeof rejectionSchema>;

// ---------------------------------------------------------------------------
// Alerts and silences
// ---------------------------------------------------------------------------

/** An alert as the API and the console's stream show it (core/alert.ts `AlertMessage`). */
export const alertSchema = z.object({
  id: z.string(),
  hub: z.string(),
  rule: z.string(),
  subject: z.string(),
  scope: z.enum(['sensor', 'site', 'hub']),
  kind: z.string(),
  severity: z.enum(SEVERITIES),
  state: z.enum(ALERT_STATES),
  episode: z.number().int(),
  message: z.string().describe('plain words: what is wrong, where, since when, and the numbers'),
  summary: z.string(),
  value: z.number().nullable(),
  unit: z.string().nullable(),
  facts: z.record(z.string(), z.union([z.number(), z.string()])),
  labels: z.record(z.string(), z.string()),
  activeAt: z.string().nullable().describe('when the condition began (sensor time; wall clock for deadman)'),
  firedAt: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  updatedAt: z.string(),
  acknowledged: z.object({ by: z.string(), at: z.string(), comment: z.string().optional() }).nullable(),
  silencedBy: z.array(z.string()),
});

/** One entry of an alert's history as the API shows it (times ISO 8601). */
export const alertHistorySchema = z.object({
  at: z.string(),
  ts: z.string().nullable(),
  event: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  episode: z.number().int(),
  message: z.string(),
  by: z.string().nullable(),
});
export type AlertHistoryView = z.output<typeof alertHistorySchema>;

const matcherValue = z.string().min(1).max(100).regex(/^[a-z0-9*_-]+$/, 'ids and * only');

/** Matchers of a silence: each given field must match (`*` is a wildcard inside a value). */
export const silenceMatchersSchema = z.strictObject({
  rule: matcherValue.optional(),
  hub: matcherValue.optional(),
  subject: matcherValue.optional(),
  severity: z.enum(SEVERITIES).optional(),
});

/** A silence as the API shows it (times ISO 8601). */
export const silenceSchema = z.object({
  id: z.string(),
  status: z.enum(['active', 'pending', 'expired']),
  matchers: silenceMatchersSchema,
  createdBy: z.string(),
  comment: z.string(),
  startsAt: z.string(),
  endsAt: z.string(),
  createdAt: z.string(),
  expiredAt: z.string().optional(),
  expiredBy: z.string().optional(),
});
export type SilenceView = z.output<typeof silenceSchema>;

/** An `alert` event of the console's stream. */
export const alertStreamEventSchema = z.object({
  event: z.enum(['transition', 'ack']),
  from: z.enum(ALERT_STATES),
  to: z.enum(ALERT_STATES),
  at: z.string(),
  alert: alertSchema,
});
export type AlertStreamEvent = z.output<typeof alertStreamEventSchema>;

// ---------------------------------------------------------------------------
// The console
// ---------------------------------------------------------------------------

/** How a rule fits a trend (ms): window, trailing moving average, minimum evidence. */
export const trendSpecSchema = z.object({ windowMs: z.number(), smoothMs: z.number(), minPoints: z.number().int(), minSpanMs: z.number(), minR2: z.number().optional() });
export type TrendSpec = z.output<typeof trendSpecSchema>;

/** One limit on one metric, drawn on the stocks, from the rule that watches it. */
export const thresholdSchema = z.object({
  /** Rule id the limit comes from, e.g. `battery-low`. */
  rule: z.string(),
  metric: z.string(),
  /** `below`: trouble under the limit (a safe minimum); `above`: trouble over it. */
  direction: z.enum(['below', 'above']),
  value: z.number(),
  /** Where the state goes back to normal (limit ± hysteresis), when the rule has one. */
  clearAt: z.number().optional(),
  /**
   * `threshold`: the value itself; `floor`: a depletion forecast's safe minimum; `rate`: the trend,
   * in metric units per `perMs` (e.g. soil carbon falling faster than 0.5 points a year).
   */
  kind: z.enum(['threshold', 'floor', 'rate']),
  /** `rate` only: the time unit of `value`, ms. */
  perMs: z.number().optional(),
  severity: z.enum(SEVERITIES),
  /** Words for the line on the chart, e.g. "reserve" or "safe minimum". */
  label: z.string(),
  trend: trendSpecSchema.optional().describe('floor and rate: how the rule fits its trend (ms), for the page to fit the same'),
  /** Selected hubs, sensors and sites; absent = any. */
  hubs: z.array(z.string()).optional(),
  sensors: z.array(z.string()).optional(),
  sites: z.array(z.string()).optional(),
});
export type ConsoleThreshold = z.output<typeof thresholdSchema>;

/** The hub's clock as the page is told it. */
export const hubClockSchema = z
  .object({
    now: z.number().describe("hub time (sensor time) now, epoch ms: a scenario's simulated clock, else the wall clock"),
    wall: z.number().describe("the server's wall clock, epoch ms"),
    rate: z.number().describe('hub ms per real ms: e.g. 3600 while a scenario replays, 1 live'),
    scenario: z.string().nullable(),
  })
  .describe('The clock the page shows times on; hub time never runs ahead of the wall clock');
export type HubClockView = z.output<typeof hubClockSchema>;

/** What the console page needs to know (`GET /api/v1/console/config`). */
export const consoleConfigSchema = z.object({
  title: z.string(),
  thresholds: z.array(thresholdSchema),
  features: z.object({
    openData: z.boolean().describe('`/api/v1/public/readings*` are served: the page reads open data'),
    alerts: z.boolean().describe('`/api/v1/alerts` is served'),
    silences: z.boolean(),
    rejections: z.boolean(),
  }),
  stream: z.object({ url: z.string(), heartbeatMs: z.number().int(), retryMs: z.number().int() }),
  clock: hubClockSchema,
});
export type ConsoleConfigView = z.output<typeof consoleConfigSchema>;

/** Who a bearer token belongs to. */
export const principalSchema = z.object({ name: z.string(), role: z.enum(['steward', 'technician']) });
export type PrincipalView = z.output<typeof principalSchema>;

/** Species richness of one site, from the detections the console has seen. */
export const siteRichnessSchema = z.object({
  hub: z.string(),
  site: z.string(),
  sensors: z.array(z.string()),
  newest: z.number(),
  richness24h: z.number().int(),
  richness7d: z.number().int(),
  detections24h: z.number(),
  top: z.array(z.object({ species: z.string(), count: z.number() })),
});
export type SiteRichness = z.output<typeof siteRichnessSchema>;
