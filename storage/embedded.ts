/**
 * The embedded store: readings in SQLite (`<dataDir>/store.db`, WAL), for a hub without InfluxDB.
 * It serves the same `ReadingStore` contract as the InfluxDB store and refuses the same inputs.
 *
 * Tables (docs/storage.md):
 * - `latest`: one row per series, i.e. per hub, domain, sensor and metric, with the series' newest
 *   value, site, kind (and species for biodiversity). Updated only by a reading at least as recent,
 *   so `latest()` reads O(series) rows. Its integer `id` keys the points of the series.
 * - `points`: one row per reading and metric, key (series, ts). A redelivered reading replaces its
 *   rows, as a point with the same tags and timestamp does in InfluxDB. Narrow integer keys keep
 *   the table small and writes fast (~2× a text-keyed table).
 * - `sensors` + `readings`: one row per reading with its other fields (seq, site, kind, species,
 *   policy, coarse location, attributes as JSON), merged like InfluxDB merges the fields of a
 *   rewritten point.
 * - `pipeline`: self-telemetry, one row per field.
 * - `agg_hour`, `agg_day`: per series and UTC hour / day, min, max, sum, count and last
 *   (storage/aggregates.ts), kept for years. `agg_dirty` lists the (series, hour) pairs written
 *   since they were last summarised (filled in the write transaction); downsampling recomputes
 *   those hours from `points` and their days from `agg_hour`, so running it again changes nothing.
 * - `species_day`: biodiversity readings per sensor, site, species and UTC day (detections, sum of
 *   `count`), recomputed from `readings` + `points` for the days downsampling touches.
 * Retention deletes old points, readings and pipeline rows; series and sensor rows stay, so ids
 * never change and `latest()` still shows a sensor that went silent long ago. Aggregates have their
 * own, longer retention.
 */
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { metricDef } from '../core/catalogue.ts';
import type { Domain } from '../core/ids.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { openSqlite } from '../core/sqlite.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { type AggregateRetention, type AggregateRow, DEFAULT_AGGREGATE_RETENTION, type DownsampleOutcome, floorTo, HOUR_MS, MAX_TIMER_MS, rebucket, RESOLUTION_MS, type SpeciesCount, type SpeciesQuery } from './aggregates.ts';
import { StorageError } from './errors.ts';
import { recordWrite } from './write-metrics.ts';
import { alertsToPoints, evaluationsToPoints, pipelineToPoints, validateReading } from './lineprotocol.ts';
import { checkLatestFilter, checkSpeciesQuery, normalizeRange, sortLatest } from './queries.ts';
import { type AlertPoint, type EvaluationPoint, type Aggregation, type LatestEntry, type LatestFilter, type PipelinePoint, type RangeQuery, type ReadingStore, RetryableStorageError, type SeriesPoint, type StoredReading, type WriteOutcome, type WriteRoute } from '../core/store.ts';

export interface EmbeddedStoreOptions {
  /** Directory of `store.db` (created if missing). */
  dataDir: string;
  logger: Logger;
  metrics?: PipelineMetrics;
  /** Points, readings and pipeline rows older than this many days are deleted. Default 30; 0 keeps everything. */
  retentionDays?: number;
  /** How often retention runs, ms (default 1 h; the first run is at most a minute after start). */
  pruneIntervalMs?: number;
  /** Time source for retention (default: the system clock). */
  clock?: Clock;
  /** How long a write waits for another connection's lock before failing (retryably), ms. Default 5000. */
  busyTimeoutMs?: number;
  /** How long hourly and daily aggregates are kept (default 730 and 1825 days). */
  aggregates?: Partial<AggregateRetention>;
  /** How often written hours are summarised into the aggregates, ms (default 60 s). */
  downsampleIntervalMs?: number;
  /**
   * Run retention and downsampling on a timer (default true). False for a second connection that
   * only writes readings (the forwarder's thread): the process's main store does the upkeep.
   */
  maintenance?: boolean;
}

const SCHEMA_VERSION = '1';
const DAY_MS = 86_400_000;
/** Rows deleted per retention step, so one step never holds the event loop for long. */
const PRUNE_CHUNK = 5_000;
/** (series, hour) pairs summarised per downsampling step. */
const DOWNSAMPLE_CHUNK = 2_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
  id INTEGER PRIMARY KEY, hub TEXT NOT NULL, domain TEXT NOT NULL, sensor TEXT NOT NULL, metric TEXT NOT NULL,
  site TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, species TEXT,
  UNIQUE (hub, domain, sensor, metric));
CREATE INDEX IF NOT EXISTS latest_by_sensor ON latest (sensor, metric);
CREATE TABLE IF NOT EXISTS points (
  series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sensors (
  id INTEGER PRIMARY KEY, hub TEXT NOT NULL, domain TEXT NOT NULL, sensor TEXT NOT NULL,
  UNIQUE (hub, domain, sensor));
CREATE TABLE IF NOT EXISTS readings (
  sensor_id INTEGER NOT NULL, ts INTEGER NOT NULL, site TEXT NOT NULL, kind TEXT NOT NULL, seq REAL NOT NULL,
  species TEXT, policy TEXT, lat REAL, lon REAL, attributes TEXT,
  PRIMARY KEY (sensor_id, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pipeline (
  ts INTEGER NOT NULL, role TEXT NOT NULL, hub TEXT NOT NULL, kind TEXT NOT NULL, field TEXT NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (ts, role, hub, kind, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agg_dirty (series INTEGER NOT NULL, hour INTEGER NOT NULL, PRIMARY KEY (series, hour)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agg_hour (
  series INTEGER NOT NULL, ts INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL,
  PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agg_day (
  series INTEGER NOT NULL, ts INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL,
  PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS species_day (
  sensor_id INTEGER NOT NULL, day INTEGER NOT NULL, site TEXT NOT NULL, species TEXT NOT NULL, detections INTEGER NOT NULL, individuals REAL NOT NULL,
  PRIMARY KEY (sensor_id, day, site, species)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
  ts INTEGER NOT NULL, hub TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL, severity TEXT NOT NULL,
  kind TEXT NOT NULL, state TEXT NOT NULL, value REAL, message TEXT NOT NULL,
  PRIMARY KEY (hub, rule, subject, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rule_evaluations (
  ts INTEGER NOT NULL, hub TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL,
  field TEXT NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (hub, rule, subject, field, ts)) WITHOUT ROWID;
`;

/** The value column of a window query per aggregation. */
const AGG_SQL: Record<Aggregation, string> = {
  mean: 'AVG(value) AS value',
  min: 'MIN(value) AS value',
  max: 'MAX(value) AS value',
  sum: 'SUM(value) AS value',
  count: 'COUNT(value) AS value',
  // SQLite: with a single MAX() aggregate, bare columns come from the row holding the maximum.
  last: 'value, MAX(ts) AS newest',
};

type AggStatements = Record<'hour' | 'hourIfNew' | 'day' | 'dayIfNew' | 'countSensor' | 'speciesDelete' | 'species' | 'speciesIfNew' | 'clean', Database.Statement>;

interface LatestRow {
  hub: string;
  domain: Domain;
  sensor: string;
  metric: string;
  site: string;
  kind: string;
  ts: number;
  value: number;
  species: string | null;
}

interface Statements {
  insertPoint: Database.Statement;
  createSeries: Database.Statement;
  seriesId: Database.Statement;
  updateLatest: Database.Statement;
  createSensor: Database.Statement;
  sensorId: Database.Statement;
  upsertReading: Database.Statement;
  insertPipeline: Database.Statement;
  insertAlert: Database.Statement;
  insertEvaluation: Database.Statement;
  markDirty: Database.Statement;
}

/**
 * Builds the embedded store. Files are opened by `start()`.
 *
 * @param opts - data dir, logger, metrics, retention (days, default 30)
 */
export function createEmbeddedStore(opts: EmbeddedStoreOptions): EmbeddedStore {
  return new EmbeddedStore(opts);
}

export class EmbeddedStore implements ReadingStore {
  readonly kind = 'embedded';
  readonly #dataDir: string;
  readonly #log: Logger;
  readonly #metrics: PipelineMetrics | undefined;
  readonly #retentionMs: number;
  readonly #pruneIntervalMs: number;
  readonly #clock: Clock;
  readonly #busyTimeoutMs: number;
  readonly #aggRetention: AggregateRetention;
  readonly #downsampleIntervalMs: number;
  readonly #maintenance: boolean;
  #downsampleTimer: NodeJS.Timeout | undefined;
  #db: Database.Database | undefined;
  #st: Statements | undefined;
  #writeTx: Database.Transaction<(readings: StoredReading[]) => void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pruning: Promise<void> | undefined;
  /** Ids never change (retention keeps series and sensor rows), so they are cached; cleared on rollback. */
  readonly #seriesIds = new Map<string, number>();
  readonly #sensorIds = new Map<string, number>();

  constructor(opts: EmbeddedStoreOptions) {
    const days = opts.retentionDays ?? 30;
    if (!(days >= 0)) throw new RangeError('retentionDays must be 0 or more');
    this.#dataDir = opts.dataDir;
    this.#log = opts.logger.child({ component: 'storage', store: 'embedded' });
    this.#metrics = opts.metrics;
    this.#retentionMs = days * DAY_MS;
    this.#pruneIntervalMs = Math.min(opts.pruneIntervalMs ?? 3_600_000, MAX_TIMER_MS);
    this.#clock = opts.clock ?? systemClock;
    this.#busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.#aggRetention = { ...DEFAULT_AGGREGATE_RETENTION, ...opts.aggregates };
    if (!(this.#aggRetention.hourlyDays > 0) || !(this.#aggRetention.dailyDays > 0)) throw new RangeError('aggregate retention must be more than 0 days');
    this.#downsampleIntervalMs = Math.min(opts.downsampleIntervalMs ?? 60_000, MAX_TIMER_MS);
    this.#maintenance = opts.maintenance ?? true;
  }

  /** How long raw readings are kept, ms (undefined: for ever). */
  get rawRetentionMs(): number | undefined {
    return this.#retentionMs > 0 ? this.#retentionMs : undefined;
  }

  /** Path of the database file. */
  get path(): string {
    return join(this.#dataDir, 'store.db');
  }

  /** Opens (and creates) `store.db`, starts retention. */
  async start(): Promise<void> {
    if (this.#db) return;
    this.#seriesIds.clear();
    this.#sensorIds.clear();
    const db = openSqlite(this.#dataDir, 'store.db', { synchronous: 'NORMAL', busyTimeoutMs: this.#busyTimeoutMs, migrations: [SCHEMA] });
    try {
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
      const st: Statements = {
        insertPoint: db.prepare('INSERT OR REPLACE INTO points (series, ts, value) VALUES (?, ?, ?)'),
        createSeries: db.prepare(`INSERT INTO latest (hub, domain, sensor, metric, site, kind, ts, value, species) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (hub, domain, sensor, metric) DO NOTHING`),
        seriesId: db.prepare('SELECT id FROM latest WHERE hub = ? AND domain = ? AND sensor = ? AND metric = ?').pluck(),
        updateLatest: db.prepare(`UPDATE latest SET site = @site, kind = @kind, value = @value,
            species = CASE WHEN @ts = ts THEN COALESCE(@species, species) ELSE @species END, ts = @ts
          WHERE id = @id AND ts <= @ts`),
        createSensor: db.prepare('INSERT INTO sensors (hub, domain, sensor) VALUES (?, ?, ?) ON CONFLICT (hub, domain, sensor) DO NOTHING'),
        sensorId: db.prepare('SELECT id FROM sensors WHERE hub = ? AND domain = ? AND sensor = ?').pluck(),
        // A rewritten reading keeps fields the rewrite does not carry, as InfluxDB merges fields.
        upsertReading: db.prepare(`INSERT INTO readings (sensor_id, ts, site, kind, seq, species, policy, lat, lon, attributes)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (sensor_id, ts) DO UPDATE SET site = excluded.site, kind = excluded.kind, seq = excluded.seq,
            species = COALESCE(excluded.species, species), policy = COALESCE(excluded.policy, policy),
            lat = COALESCE(excluded.lat, lat), lon = COALESCE(excluded.lon, lon),
            attributes = CASE WHEN excluded.attributes IS NULL THEN attributes WHEN attributes IS NULL THEN excluded.attributes
              ELSE json_patch(attributes, excluded.attributes) END`),
        insertPipeline: db.prepare('INSERT OR REPLACE INTO pipeline (ts, role, hub, kind, field, value) VALUES (?, ?, ?, ?, ?, ?)'),
        insertAlert: db.prepare('INSERT OR REPLACE INTO alerts (ts, hub, rule, subject, severity, kind, state, value, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
        insertEvaluation: db.prepare('INSERT OR REPLACE INTO rule_evaluations (ts, hub, rule, subject, kind, field, value) VALUES (?, ?, ?, ?, ?, ?, ?)'),
        markDirty: db.prepare('INSERT OR IGNORE INTO agg_dirty (series, hour) VALUES (?, ?)'),
      };
      // A store written before aggregates existed: summarise what it holds, once.
      if (!db.prepare("SELECT 1 FROM meta WHERE key = 'aggregates_since'").get()) {
        db.transaction(() => {
          db.exec(`INSERT OR IGNORE INTO agg_dirty (series, hour) SELECT DISTINCT series, (ts / ${HOUR_MS}) * ${HOUR_MS} FROM points`);
          db.prepare("INSERT INTO meta (key, value) VALUES ('aggregates_since', ?)").run(new Date(this.#clock.now()).toISOString());
        })();
      }
      this.#writeTx = db.transaction((readings: StoredReading[]) => this.#writeRows(st, readings));
      this.#db = db;
      this.#st = st;
    } catch (e) {
      db.close();
      throw e;
    }
    // First pass a minute after start (not during start-up's burst of spool replay), then every interval.
    if (this.#maintenance) {
      this.#schedulePrune(Math.min(this.#pruneIntervalMs, 60_000));
      this.#scheduleDownsample();
    }
    this.#log.info({ path: this.path, retentionDays: this.#retentionMs / DAY_MS, aggregates: this.#aggRetention }, 'embedded store open');
  }

  /** Stops retention, waits for a running prune step, closes the file. */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#downsampleTimer) clearTimeout(this.#downsampleTimer);
    this.#downsampleTimer = undefined;
    const db = this.#db;
    this.#db = undefined;
    this.#st = undefined;
    this.#writeTx = undefined;
    await this.#pruning?.catch(() => undefined);
    db?.close();
  }

  async ping(): Promise<boolean> {
    try {
      return this.#db?.prepare('SELECT 1 AS one').get() !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * Stores readings in one transaction. Readings that do not fit the schema come back in
   * `rejected` (same rules as the InfluxDB store); the others are stored.
   *
   * @throws RetryableStorageError when the store is not open or SQLite fails (disk full, I/O, busy)
   */
  async write(readings: StoredReading[]): Promise<WriteOutcome> {
    return recordWrite({ store: this.kind, metrics: this.#metrics, log: this.#log, what: 'readings' }, async () => {
      const tx = this.#writeTx;
      if (!tx) throw new RetryableStorageError('embedded store is not started');
      const valid: StoredReading[] = [];
      const rejected: WriteOutcome['rejected'] = [];
      readings.forEach((r, index) => {
        try {
          validateReading(r);
          valid.push(r);
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          rejected.push({ index, reason: e.message });
        }
      });
      if (valid.length) {
        try {
          // IMMEDIATE: take the write lock up front, so another writer makes us wait (busy_timeout), not fail.
          tx.immediate(valid);
        } catch (e) {
          // Ids created in the rolled-back transaction do not exist.
          this.#seriesIds.clear();
          this.#sensorIds.clear();
          this.#log.error({ err: e }, 'embedded store write failed');
          throw new RetryableStorageError(`embedded store write failed: ${(e as Error).message}`, undefined, { cause: e });
        }
      }
      return { written: valid.length, rejected };
    });
  }

  /** Series id of hub/domain/sensor/metric, created (with this reading's value) on first sight. */
  #series(st: Statements, r: StoredReading, metric: string, value: number): number {
    const key = `${r.hub}\u0000${r.domain}\u0000${r.sensor}\u0000${metric}`;
    let id = this.#seriesIds.get(key);
    if (id === undefined) {
      const species = r.domain === 'biodiversity' ? (r.species ?? null) : null;
      st.createSeries.run(r.hub, r.domain, r.sensor, metric, r.site, r.kind, r.ts, value, species);
      id = st.seriesId.get(r.hub, r.domain, r.sensor, metric) as number;
      this.#seriesIds.set(key, id);
    }
    return id;
  }

  #sensor(st: Statements, r: StoredReading): number {
    const key = `${r.hub}\u0000${r.domain}\u0000${r.sensor}`;
    let id = this.#sensorIds.get(key);
    if (id === undefined) {
      st.createSensor.run(r.hub, r.domain, r.sensor);
      id = st.sensorId.get(r.hub, r.domain, r.sensor) as number;
      this.#sensorIds.set(key, id);
    }
    return id;
  }

  #writeRows(st: Statements, readings: StoredReading[]): void {
    const newest = new Map<number, { r: StoredReading; value: number }>();
    const dirty = new Map<number, Set<number>>();
    for (const r of readings) {
      const hour = floorTo(r.ts, HOUR_MS);
      for (const metric in r.metrics) {
        const value = r.metrics[metric] as number;
        const id = this.#series(st, r, metric, value);
        st.insertPoint.run(id, r.ts, value);
        let hours = dirty.get(id);
        if (!hours) dirty.set(id, (hours = new Set()));
        hours.add(hour);
        const prev = newest.get(id);
        if (!prev || r.ts >= prev.r.ts) newest.set(id, { r, value });
      }
      const attrs = r.attributes && Object.keys(r.attributes).length ? JSON.stringify(r.attributes) : null;
      st.upsertReading.run(this.#sensor(st, r), r.ts, r.site, r.kind, r.seq, r.species ?? null, r.policy ?? null, r.location?.lat ?? null, r.location?.lon ?? null, attrs);
    }
    for (const [id, { r, value }] of newest) {
      const species = r.domain === 'biodiversity' ? (r.species ?? null) : null;
      st.updateLatest.run({ id, site: r.site, kind: r.kind, ts: r.ts, value, species });
    }
    for (const [id, hours] of dirty) for (const h of hours) st.markDirty.run(id, h);
  }

  /** Self-telemetry; invalid points and failures are logged, never thrown. */
  async writePipeline(points: PipelinePoint[]): Promise<void> {
    const db = this.#db;
    const st = this.#st;
    if (!db || !st || points.length === 0) return;
    try {
      pipelineToPoints(points); // the InfluxDB store's validation, so both refuse the same points
      const routed = this.#route?.({ kind: 'pipeline', points });
      if (routed) return await routed;
      db.transaction(() => {
        for (const p of points) {
          for (const [field, value] of Object.entries(p.fields)) st.insertPipeline.run(p.ts, p.role, p.hub ?? '', p.kind ?? '', field, value);
        }
      })();
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'pipeline telemetry not written');
    }
  }

  async writeAlerts(points: AlertPoint[]): Promise<void> {
    const db = this.#open();
    const st = this.#st!;
    alertsToPoints(points); // same validation as the InfluxDB store
    try {
      const routed = this.#route?.({ kind: 'alerts', points });
      if (routed) return await routed;
      db.transaction(() => {
        for (const a of points) st.insertAlert.run(a.ts, a.hub, a.rule, a.subject, a.severity, a.kind, a.state, a.value ?? null, a.message);
      })();
    } catch (e) {
      throw new RetryableStorageError(`embedded store: alerts not written: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  async writeEvaluations(points: EvaluationPoint[]): Promise<void> {
    const db = this.#open();
    const st = this.#st!;
    try {
      evaluationsToPoints(points); // same validation as the InfluxDB store
      const routed = this.#route?.({ kind: 'evaluations', points });
      if (routed) return await routed;
      db.transaction(() => {
        for (const e of points) for (const [field, value] of Object.entries(e.fields)) st.insertEvaluation.run(e.ts, e.hub, e.rule, e.subject, e.kind, field, value);
      })();
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'rule evaluations not written');
    }
  }

  #route: WriteRoute | undefined;

  /** See ReadingStore.routeWrites: while set, the small writes and the upkeep timers' work go to the route's writer. */
  routeWrites(route: WriteRoute | undefined): void {
    this.#route = route;
  }

  #open(): Database.Database {
    if (!this.#db) throw new StorageError('STORAGE_ERR_NOT_STARTED', 'embedded store is not started');
    return this.#db;
  }

  /**
   * One entry per hub, sensor and metric with its most recent value, read from the `latest` table.
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY`, `STORAGE_ERR_NOT_STARTED`
   */
  async latest(filter: LatestFilter): Promise<LatestEntry[]> {
    checkLatestFilter(filter);
    const db = this.#open();
    const conds = (['hub', 'domain', 'sensor'] as const).filter((k) => filter[k] !== undefined);
    const where = conds.length ? ` WHERE ${conds.map((k) => `${k} = @${k}`).join(' AND ')}` : '';
    const rows = db.prepare(`SELECT hub, domain, sensor, metric, site, kind, ts, value, species FROM latest${where}`).all({ ...filter }) as LatestRow[];
    const out: LatestEntry[] = [];
    for (const row of rows) {
      const def = metricDef(row.metric);
      if (!def) continue;
      const e: LatestEntry = { hub: row.hub, domain: row.domain, sensor: row.sensor, site: row.site, kind: row.kind, metric: row.metric, value: row.value, unit: def.unit, ts: row.ts };
      if (row.species !== null) e.species = row.species;
      out.push(e);
    }
    return sortLatest(out);
  }

  /**
   * A metric of one sensor over `[from, to)`: raw points in time order, or epoch-aligned windows
   * (`(ts / windowMs) * windowMs`, timestamp = window start, empty windows left out).
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY`, `STORAGE_ERR_NOT_STARTED`
   */
  async range(query: RangeQuery): Promise<SeriesPoint[]> {
    const q = normalizeRange(query);
    const db = this.#open();
    if (q.from >= q.to) return [];
    const hub = q.hub !== undefined ? ' AND hub = @hub' : '';
    const ids = db.prepare(`SELECT id FROM latest WHERE sensor = @sensor AND metric = @metric AND domain = @domain${hub}`).pluck().all({ sensor: q.sensor, metric: q.metric, domain: q.domain, hub: q.hub }) as number[];
    if (ids.length === 0) return [];
    const where = `WHERE series IN (${ids.map(() => '?').join(', ')}) AND ts >= ? AND ts < ?`;
    if (q.resolution !== 'raw') {
      // Summarise what this series has pending first, so an aggregate read sees every write.
      while (this.#downsampleStep(db, ids, { hours: 0, days: 0, speciesDays: 0 }) > 0);
      const table = q.resolution === '1h' ? 'agg_hour' : 'agg_day';
      const rows = db.prepare(`SELECT ts, min, max, sum, count, last FROM ${table} ${where} ORDER BY ts`).all(...ids, q.from, q.to) as AggregateRow[];
      return rebucket(rows, q.windowMs ?? RESOLUTION_MS[q.resolution], q.agg, q.limit);
    }
    if (q.windowMs === undefined) {
      return db.prepare(`SELECT ts, value FROM points ${where} ORDER BY ts LIMIT ?`).all(...ids, q.from, q.to, q.limit) as SeriesPoint[];
    }
    // Bound as BigInt: better-sqlite3 binds JS numbers as REAL, which would make the division fractional.
    const w = BigInt(q.windowMs);
    const rows = db
      .prepare(`SELECT (ts / ?) * ? AS bucket, ${AGG_SQL[q.agg]} FROM points ${where} GROUP BY bucket ORDER BY bucket LIMIT ?`)
      .all(w, w, ...ids, q.from, q.to, q.limit) as Array<{ bucket: number; value: number }>;
    return rows.map((r) => ({ ts: r.bucket, value: r.value }));
  }

  /**
   * Deletes what is older than the retention now, series by series in small steps (yielding to the
   * event loop between steps). Resolves when done. Exposed for tests and `steward` maintenance.
   */
  async prune(): Promise<{ points: number; readings: number; pipeline: number; evaluations: number }> {
    const counts = { points: 0, readings: 0, pipeline: 0, evaluations: 0 };
    if (!this.#db) return counts;
    const run = async (): Promise<void> => {
      // Summarise before raw points go, then drop aggregates past their own retention.
      await this.downsample();
      await this.#pruneAggregates();
      if (this.#retentionMs <= 0) return;
      const cutoff = this.#clock.now() - this.#retentionMs;
      const series = this.#db?.prepare('SELECT id FROM latest').pluck().all() as number[] | undefined;
      for (const id of series ?? []) counts.points += await this.#pruneRows('points', 'series = @id', { id }, cutoff);
      const sensors = this.#db?.prepare('SELECT id FROM sensors').pluck().all() as number[] | undefined;
      for (const id of sensors ?? []) counts.readings += await this.#pruneRows('readings', 'sensor_id = @id', { id }, cutoff);
      counts.pipeline += await this.#pruneRows('pipeline', '1 = 1', {}, cutoff);
      counts.evaluations += await this.#pruneRows('rule_evaluations', '1 = 1', {}, cutoff);
    };
    const p = (this.#pruning ?? Promise.resolve()).then(run, run);
    this.#pruning = p;
    await p;
    return counts;
  }

  /** Deletes rows of `table` matching `cond` with ts < cutoff, at most PRUNE_CHUNK per step. */
  async #pruneRows(table: string, cond: string, params: Record<string, unknown>, cutoff: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const db = this.#db;
      if (!db) return deleted;
      const boundary = db.prepare(`SELECT ts FROM ${table} WHERE ${cond} AND ts < @cutoff ORDER BY ts LIMIT 1 OFFSET ${PRUNE_CHUNK}`).get({ ...params, cutoff }) as { ts: number } | undefined;
      const upTo = boundary ? boundary.ts : cutoff;
      const n = db.prepare(`DELETE FROM ${table} WHERE ${cond} AND ts < @upTo`).run({ ...params, upTo }).changes;
      deleted += n;
      if (!boundary) return deleted;
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Deletes hourly aggregates older than their retention, daily aggregates and species days older than theirs. */
  async #pruneAggregates(): Promise<number> {
    const now = this.#clock.now();
    const hourCutoff = now - this.#aggRetention.hourlyDays * DAY_MS;
    const dayCutoff = now - this.#aggRetention.dailyDays * DAY_MS;
    let n = 0;
    const series = this.#db?.prepare('SELECT id FROM latest').pluck().all() as number[] | undefined;
    for (const id of series ?? []) {
      n += await this.#pruneRows('agg_hour', 'series = @id', { id }, hourCutoff);
      n += await this.#pruneRows('agg_day', 'series = @id', { id }, dayCutoff);
    }
    n += this.#db?.prepare('DELETE FROM species_day WHERE day < ?').run(dayCutoff).changes ?? 0;
    if (n) this.#log.info({ rows: n }, 'retention: old aggregates deleted');
    return n;
  }

  /**
   * Summarises every (series, hour) written since the last pass into `agg_hour`, their days into
   * `agg_day` and, for biodiversity counts, `species_day`; in steps of a few thousand pairs,
   * yielding between steps. A bucket older than the raw retention is summarised only if it never
   * was (a backfill); a late reading for one that was is not added to it.
   */
  async downsample(): Promise<DownsampleOutcome> {
    const total: DownsampleOutcome = { hours: 0, days: 0, speciesDays: 0 };
    for (;;) {
      const db = this.#db;
      if (!db) return total;
      if (this.#downsampleStep(db, undefined, total) === 0) return total;
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** One step of {@link downsample}, for all series or only `ids`. Returns the dirty pairs handled. */
  #downsampleStep(db: Database.Database, ids: number[] | undefined, total: DownsampleOutcome): number {
    const step = db.transaction((): number => {
      const only = ids ? `WHERE series IN (${ids.map(() => '?').join(', ')})` : '';
      const dirty = db.prepare(`SELECT series, hour FROM agg_dirty ${only} ORDER BY series, hour LIMIT ${DOWNSAMPLE_CHUNK}`).all(...(ids ?? [])) as Array<{ series: number; hour: number }>;
      if (!dirty.length) return 0;
      const spans = new Map<number, { lo: number; hi: number }>();
      for (const d of dirty) {
        const sp = spans.get(d.series);
        if (!sp) spans.set(d.series, { lo: d.hour, hi: d.hour });
        else sp.hi = Math.max(sp.hi, d.hour);
      }
      // Buckets that retention may have cut are summarised only if they never were (a backfill of
      // old readings); one summarised while complete is not replaced by what is left of it.
      const now = this.#clock.now();
      const cutoff = this.#retentionMs > 0 ? now - this.#retentionMs : -Infinity;
      const hourFloor = Math.ceil(cutoff / HOUR_MS) * HOUR_MS;
      const dayFloor = Math.ceil(cutoff / DAY_MS) * DAY_MS;
      const hourlyDayFloor = Math.ceil((now - this.#aggRetention.hourlyDays * DAY_MS) / DAY_MS) * DAY_MS;
      const st = this.#aggStatements(db);
      const split = (lo: number, hi: number, floor: number, run: (a: number, b: number, replace: boolean) => number): number =>
        (lo < floor ? run(lo, Math.min(hi, floor), false) : 0) + (hi > floor ? run(Math.max(lo, floor), hi, true) : 0);
      for (const [series, { lo, hi }] of spans) {
        total.hours += split(lo, hi + HOUR_MS, hourFloor, (a, b, replace) => (replace ? st.hour : st.hourIfNew).run({ series, lo: a, hi: b }).changes);
        const dLo = floorTo(lo, DAY_MS);
        const dHi = floorTo(hi, DAY_MS) + DAY_MS;
        total.days += split(dLo, dHi, hourlyDayFloor, (a, b, replace) => (replace ? st.day : st.dayIfNew).run({ series, lo: a, hi: b }).changes);
        const sensor = st.countSensor.get(series) as number | undefined;
        if (sensor !== undefined) {
          total.speciesDays += split(dLo, dHi, dayFloor, (a, b, replace) => {
            if (!replace) return st.speciesIfNew.run({ sensor, series, lo: a, hi: b }).changes;
            st.speciesDelete.run({ sensor, lo: a, hi: b });
            return st.species.run({ sensor, series, lo: a, hi: b }).changes;
          });
        }
        st.clean.run({ series, lo, hi });
      }
      return dirty.length;
    });
    return step.immediate();
  }

  #aggSt: { db: Database.Database; st: AggStatements } | undefined;

  #aggStatements(db: Database.Database): AggStatements {
    if (this.#aggSt?.db === db) return this.#aggSt.st;
    const hour = (verb: string): Database.Statement =>
      db.prepare(`${verb} INTO agg_hour (series, ts, min, max, sum, count, last)
        SELECT @series, h, MIN(value), MAX(value), SUM(value), COUNT(*),
          (SELECT p2.value FROM points p2 WHERE p2.series = @series AND p2.ts >= h AND p2.ts < h + ${HOUR_MS} ORDER BY p2.ts DESC LIMIT 1)
        FROM (SELECT (ts / ${HOUR_MS}) * ${HOUR_MS} AS h, value FROM points WHERE series = @series AND ts >= @lo AND ts < @hi) GROUP BY h`);
    const day = (verb: string): Database.Statement =>
      db.prepare(`${verb} INTO agg_day (series, ts, min, max, sum, count, last)
        SELECT @series, d, MIN(min), MAX(max), SUM(sum), SUM(count),
          (SELECT a2.last FROM agg_hour a2 WHERE a2.series = @series AND a2.ts >= d AND a2.ts < d + ${DAY_MS} ORDER BY a2.ts DESC LIMIT 1)
        FROM (SELECT (ts / ${DAY_MS}) * ${DAY_MS} AS d, min, max, sum, count FROM agg_hour WHERE series = @series AND ts >= @lo AND ts < @hi) GROUP BY d`);
    const species = (verb: string): Database.Statement =>
      db.prepare(`${verb} INTO species_day (sensor_id, day, site, species, detections, individuals)
        SELECT @sensor, (r.ts / ${DAY_MS}) * ${DAY_MS} AS d, r.site, r.species, COUNT(*), SUM(p.value)
        FROM readings r JOIN points p ON p.series = @series AND p.ts = r.ts
        WHERE r.sensor_id = @sensor AND r.ts >= @lo AND r.ts < @hi AND r.species IS NOT NULL GROUP BY d, r.site, r.species`);
    const st: AggStatements = {
      hour: hour('INSERT OR REPLACE'),
      hourIfNew: hour('INSERT OR IGNORE'),
      day: day('INSERT OR REPLACE'),
      dayIfNew: day('INSERT OR IGNORE'),
      countSensor: db
        .prepare(`SELECT s.id FROM latest l JOIN sensors s ON s.hub = l.hub AND s.domain = l.domain AND s.sensor = l.sensor
          WHERE l.id = ? AND l.domain = 'biodiversity' AND l.metric = 'count'`)
        .pluck(),
      speciesDelete: db.prepare('DELETE FROM species_day WHERE sensor_id = @sensor AND day >= @lo AND day < @hi'),
      species: species('INSERT'),
      speciesIfNew: species('INSERT OR IGNORE'),
      clean: db.prepare('DELETE FROM agg_dirty WHERE series = @series AND hour >= @lo AND hour <= @hi'),
    };
    this.#aggSt = { db, st };
    return st;
  }

  /**
   * Species seen per hub, site and UTC day (days starting in `[from, to)`), from the daily
   * species table; pending writes are summarised first.
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY`, `STORAGE_ERR_NOT_STARTED`
   */
  async speciesCounts(q: SpeciesQuery): Promise<SpeciesCount[]> {
    checkSpeciesQuery(q);
    this.#open();
    await this.downsample();
    const db = this.#open();
    const conds = ['d.day >= @from', 'd.day < @to'];
    if (q.hub !== undefined) conds.push('s.hub = @hub');
    if (q.site !== undefined) conds.push('d.site = @site');
    return db
      .prepare(`SELECT s.hub AS hub, d.site AS site, d.species AS species, d.day AS day, SUM(d.detections) AS detections, SUM(d.individuals) AS individuals
        FROM species_day d JOIN sensors s ON s.id = d.sensor_id WHERE ${conds.join(' AND ')}
        GROUP BY s.hub, d.site, d.species, d.day ORDER BY s.hub, d.site, d.day, d.species`)
      .all({ from: q.from, to: q.to, hub: q.hub, site: q.site }) as SpeciesCount[];
  }

  #scheduleDownsample(): void {
    this.#downsampleTimer = setTimeout(() => {
      // With writes routed to another connection, that one does the upkeep.
      (this.#route ? Promise.resolve() : this.downsample())
        .catch((e: unknown) => this.#log.warn({ err: (e as Error).message }, 'downsampling step failed'))
        .finally(() => {
          if (this.#db) this.#scheduleDownsample();
        });
    }, this.#downsampleIntervalMs);
    this.#downsampleTimer.unref();
  }

  #schedulePrune(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      (this.#route ? Promise.resolve({ points: 0, readings: 0, pipeline: 0, evaluations: 0 }) : this.prune())
        .then((c) => {
          if (c.points || c.readings || c.pipeline) this.#log.info(c, 'retention: old rows deleted');
        })
        .catch((e: unknown) => this.#log.warn({ err: (e as Error).message }, 'retention step failed'))
        .finally(() => {
          if (this.#db && !this.#timer) this.#schedulePrune(this.#pruneIntervalMs);
        });
    }, delayMs);
    this.#timer.unref();
  }
}
