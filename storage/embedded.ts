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
 * Retention deletes old points, readings and pipeline rows; series and sensor rows stay, so ids
 * never change and `latest()` still shows a sensor that went silent long ago.
 */
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { metricDef } from '../core/catalogue.ts';
import type { Domain } from '../core/ids.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { openSqlite } from '../core/sqlite.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { StorageError } from './errors.ts';
import { alertsToPoints, evaluationsToPoints, pipelineToPoints, validateReading } from './lineprotocol.ts';
import { checkLatestFilter, normalizeRange, sortLatest } from './queries.ts';
import {
  type AlertPoint,
  type EvaluationPoint,
  type Aggregation,
  type LatestEntry,
  type LatestFilter,
  type PipelinePoint,
  type RangeQuery,
  type ReadingStore,
  RetryableStorageError,
  type SeriesPoint,
  type StoredReading,
  type WriteOutcome,
} from './types.ts';

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
}

const SCHEMA_VERSION = '1';
const DAY_MS = 86_400_000;
/** Rows deleted per retention step, so one step never holds the event loop for long. */
const PRUNE_CHUNK = 5_000;

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
    this.#pruneIntervalMs = opts.pruneIntervalMs ?? 3_600_000;
    this.#clock = opts.clock ?? systemClock;
    this.#busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
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
      };
      this.#writeTx = db.transaction((readings: StoredReading[]) => this.#writeRows(st, readings));
      this.#db = db;
      this.#st = st;
    } catch (e) {
      db.close();
      throw e;
    }
    // First pass a minute after start (not during start-up's burst of spool replay), then every interval.
    if (this.#retentionMs > 0) this.#schedulePrune(Math.min(this.#pruneIntervalMs, 60_000));
    this.#log.info({ path: this.path, retentionDays: this.#retentionMs / DAY_MS }, 'embedded store open');
  }

  /** Stops retention, waits for a running prune step, closes the file. */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
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
    const started = performance.now();
    let outcome = 'ok';
    try {
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
      if (rejected.length) {
        outcome = 'partial';
        this.#metrics?.storageErrors.inc({ store: this.kind, retryable: 'false' }, rejected.length);
        this.#log.warn({ written: valid.length, rejected: rejected.length, first: rejected[0] }, 'storage refused readings for good');
      }
      return { written: valid.length, rejected };
    } catch (e) {
      outcome = 'retryable';
      this.#metrics?.storageErrors.inc({ store: this.kind, retryable: 'true' });
      throw e;
    } finally {
      this.#metrics?.storageWriteSeconds.observe({ store: this.kind, outcome }, (performance.now() - started) / 1000);
    }
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
    for (const r of readings) {
      for (const metric in r.metrics) {
        const value = r.metrics[metric] as number;
        const id = this.#series(st, r, metric, value);
        st.insertPoint.run(id, r.ts, value);
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
  }

  /** Self-telemetry; invalid points and failures are logged, never thrown. */
  async writePipeline(points: PipelinePoint[]): Promise<void> {
    const db = this.#db;
    const st = this.#st;
    if (!db || !st || points.length === 0) return;
    try {
      pipelineToPoints(points); // the InfluxDB store's validation, so both refuse the same points
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
      db.transaction(() => {
        for (const e of points) for (const [field, value] of Object.entries(e.fields)) st.insertEvaluation.run(e.ts, e.hub, e.rule, e.subject, e.kind, field, value);
      })();
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'rule evaluations not written');
    }
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
    if (this.#retentionMs <= 0 || !this.#db) return counts;
    const run = async (): Promise<void> => {
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

  #schedulePrune(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.prune()
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
