/**
 * The storage contract. Ingest writes through `ReadingStore.write`; the API reads through the
 * query methods; the same interface is served by the embedded store (SQLite) and by InfluxDB
 * (v1 or v2 write API, InfluxQL reads). Storage schema: docs/contract.md "Storage schema" and
 * docs/storage.md. Adapters live in storage/.
 */
import type { Domain } from './ids.ts';
import type { Reading } from './reading.ts';

/** What a range query reads: raw points, or the hourly or daily aggregates. */
export type Resolution = 'raw' | '1h' | '1d';

/** Species seen at one site on one UTC day. */
export interface SpeciesCount {
  hub: string;
  site: string;
  species: string;
  /** Start of the UTC day, epoch ms. */
  day: number;
  /** Readings (detections or observations) of the species. */
  detections: number;
  /** Sum of their `count` metric. */
  individuals: number;
}

export interface SpeciesQuery {
  hub?: string;
  site?: string;
  /** Epoch ms, inclusive: days starting at or after it. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

/** What one downsampling pass did. */
export interface DownsampleOutcome {
  /** Hourly buckets (re)written. */
  hours: number;
  /** Daily buckets (re)written. */
  days: number;
  /** Daily species rows (re)written. */
  speciesDays: number;
}

/** A reading as it is stored: already through the privacy boundary. */
export type StoredReading = Omit<Reading, 'attributes' | 'location'> & {
  /** Coarsened location, if the privacy policy publishes one. */
  location?: { lat: number; lon: number };
  /** Non-personal attributes only. */
  attributes?: Record<string, string | number | boolean>;
  /** Version of the privacy policy that produced this record. */
  policy?: string;
};

export interface WriteOutcome {
  /** Readings stored. */
  written: number;
  /** Readings storage refused for good (e.g. field type conflict): dead-letter them, do not retry. */
  rejected: Array<{ index: number; reason: string }>;
}

/** Storage is unreachable or overloaded (network error, 5xx, 429): retry later, keep the data. */
export class RetryableStorageError extends Error {
  override readonly name = 'RetryableStorageError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

export interface LatestEntry {
  hub: string;
  domain: Domain;
  sensor: string;
  site: string;
  kind: string;
  metric: string;
  value: number;
  unit: string;
  /** Epoch ms of the reading. */
  ts: number;
  /** Biodiversity: the species of that reading. */
  species?: string;
}

export interface LatestFilter {
  hub?: string;
  domain?: Domain;
  sensor?: string;
}

export type Aggregation = 'mean' | 'min' | 'max' | 'sum' | 'last' | 'count';

export interface RangeQuery {
  hub?: string;
  sensor: string;
  metric: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Aggregate into windows of this many ms (aligned to the epoch); raw points when absent. */
  windowMs?: number;
  agg?: Aggregation;
  /** Most points returned. */
  limit?: number;
  /**
   * What to read (default `raw`): raw points, or the hourly (`1h`) or daily (`1d`) aggregates,
   * kept for years. With an aggregate resolution `windowMs` defaults to the bucket size and must
   * be a whole number of buckets; a window covers the buckets that start in `[from, to)`.
   */
  resolution?: Resolution;
}

export interface SeriesPoint {
  ts: number;
  value: number;
}

/** Self-telemetry written to the `pipeline` measurement (tags: hub, role, kind). */
export interface PipelinePoint {
  ts: number;
  role: string;
  hub?: string;
  /** Optional third tag, e.g. the store or simulator kind the figures are about. */
  kind?: string;
  fields: Record<string, number>;
}

/** One alert transition, written to the `alerts` measurement (tags hub, rule, subject, severity, kind). */
export interface AlertPoint {
  /** Wall clock of the transition, epoch ms. */
  ts: number;
  hub: string;
  rule: string;
  subject: string;
  severity: string;
  /** Rule kind: threshold, rate, depletion, balance, deadman, diversity. */
  kind: string;
  /** pending, firing, resolved, inactive (or acknowledged for an ack event). */
  state: string;
  /** The number the rule judged, if any. */
  value?: number;
  /** Plain words: what is wrong, where, since when, and the numbers. */
  message: string;
}

/**
 * One evaluation of a scheduled rule (depletion, rate, balance, diversity…) for one subject: the
 * numbers behind the alert (or behind its absence), so dashboards show what the rules see
 * (`rule_evaluations` measurement).
 */
export interface EvaluationPoint {
  /** Sensor time of the evaluation (the newest reading it used), epoch ms. */
  ts: number;
  hub: string;
  rule: string;
  subject: string;
  /** Rule kind. */
  kind: string;
  /**
   * Finite numbers only: `value` (the number the rule judged; -1 for "never", e.g. the days to the
   * floor of a stock that is not falling) and the rule's numeric facts (`level`, `ratePerDay`,
   * `daysToFloor`, `r2`…).
   */
  fields: Record<string, number>;
}

export interface ReadingStore {
  /** `embedded`, `influxdb-v1` or `influxdb-v2`. */
  readonly kind: string;
  /** How long raw readings are kept, ms, when the store knows (undefined: unknown or for ever). */
  readonly rawRetentionMs?: number | undefined;
  /** Opens files, creates databases if allowed. Does not throw on an unreachable server. */
  start(): Promise<void>;
  /** Flushes and closes. */
  stop(): Promise<void>;
  /** Is storage reachable and accepting writes? */
  ping(): Promise<boolean>;
  /**
   * Stores readings idempotently (same hub, sensor, domain and sensor timestamp overwrite).
   * Throws RetryableStorageError when nothing can be known to be stored (outage, 5xx, 429);
   * reports points refused for good in `rejected` (the others are stored).
   */
  write(readings: StoredReading[]): Promise<WriteOutcome>;
  /** Self-telemetry; best effort. */
  writePipeline(points: PipelinePoint[]): Promise<void>;
  /** Alert transitions (`alerts` measurement). Throws RetryableStorageError on an outage. */
  writeAlerts(points: AlertPoint[]): Promise<void>;
  /** Rule evaluations (`rule_evaluations` measurement); best effort, like telemetry. */
  writeEvaluations(points: EvaluationPoint[]): Promise<void>;
  /** One entry per sensor and metric: the most recent value. */
  latest(filter: LatestFilter): Promise<LatestEntry[]>;
  /** A metric of one sensor over time, raw or aggregated. */
  range(q: RangeQuery): Promise<SeriesPoint[]>;
  /**
   * Brings the hourly and daily aggregates up to date with what was written (the stores also do
   * this on their own schedule). Idempotent: a bucket is recomputed from its readings, never added to.
   */
  downsample(): Promise<DownsampleOutcome>;
  /** Per site, species and UTC day: detections and individuals (biodiversity), kept as long as daily aggregates. */
  speciesCounts(q: SpeciesQuery): Promise<SpeciesCount[]>;
  /**
   * Another writer (the forwarder's thread, with its own connection) stored readings of `domain`
   * at `ts`: a store that tracks what to summarise in memory marks that hour. Optional: a store
   * that keeps this in its database has nothing to do.
   */
  noteWritten?(domain: Domain, ts: number): void;
  /**
   * Sends this store's own small writes (telemetry, alerts, rule evaluations) to `route` while it
   * is set, so that one connection — the forwarder thread's — is the only writer and this thread
   * never waits for its lock; `route` answers undefined when it cannot take one (write here).
   * Upkeep (retention, downsampling) then runs with that writer too. Optional: a store whose
   * writes never wait for a lock has nothing to route.
   */
  routeWrites?(route: WriteRoute | undefined): void;
}

/** A store's small write, as {@link ReadingStore.routeWrites} hands it on. */
export type SideWrite = { kind: 'pipeline'; points: PipelinePoint[] } | { kind: 'alerts'; points: AlertPoint[] } | { kind: 'evaluations'; points: EvaluationPoint[] };

/** Takes a {@link SideWrite} elsewhere; undefined when it cannot. */
export type WriteRoute = (write: SideWrite) => Promise<void> | undefined;

/** Runs a {@link SideWrite} on `store`. */
export function runSideWrite(store: Pick<ReadingStore, 'writePipeline' | 'writeAlerts' | 'writeEvaluations'>, w: SideWrite): Promise<void> {
  switch (w.kind) {
    case 'pipeline':
      return store.writePipeline(w.points);
    case 'alerts':
      return store.writeAlerts(w.points);
    case 'evaluations':
      return store.writeEvaluations(w.points);
  }
}
