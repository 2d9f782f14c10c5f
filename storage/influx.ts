/**
 * The InfluxDB store: writes through the v2 API (`/api/v2/write`, InfluxDB 2.x/3.x/Cloud and other
 * servers that speak it) or the v1 API (`/write`, InfluxDB 1.x), reads with InfluxQL on `/query`
 * (1.x natively, 2.x through a DBRP mapping, 3.x natively).
 *
 * This store keeps nothing in memory: durability and retry belong to ingest's spool. Every call
 * either returns what the server stored and refused, or throws `RetryableStorageError` when it
 * cannot know (outage, timeout, 5xx, 429, and misconfiguration such as 401/403/404, which must not
 * destroy data). Bad lines (400/422, including 1.x "partial write") are found by bisecting the
 * batch, which is safe because a point with the same measurement, tags and timestamp overwrites
 * itself.
 *
 * Years of history: Steward downsamples by itself (not with continuous queries, which InfluxDB 2.x
 * and 3.x do not have and which run on the wall clock only): hours this store wrote are summarised
 * with InfluxQL into `<domain>_1h` and `<domain>_1d` (+ `species_1d`) through the same write path,
 * into long retention policies (v1) or buckets (v2). docs/storage.md "Years".
 */
import { createHash } from 'node:crypto';
import { HttpError, type HttpHeaders, InfluxDB, Point } from '@influxdata/influxdb-client';
import { parseRetryAfter } from '../core/backoff.ts';
import { metricDef, metricsOf } from '../core/catalogue.ts';
import { DOMAINS, type Domain } from '../core/ids.ts';
import { type AggregateRetention, type AggregateRow, DAY_MS, DEFAULT_AGGREGATE_RETENTION, type DownsampleOutcome, floorTo, HOUR_MS, MAX_TIMER_MS, rebucket, RESOLUTION_MS, type SpeciesCount, type SpeciesQuery } from './aggregates.ts';
import type { InfluxConfig } from '../core/config.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { Logger } from '../telemetry/log.ts';
import { StorageError } from './errors.ts';
import { recordWrite } from './write-metrics.ts';
import { AGG_FIELDS, aggField, aggMeasurement, aggregateRangeStatement, dailyDownsampleStatement, fromClause, hourlyDownsampleStatement, latestStatements, quoteIdent, rangeStatement, showSeriesStatements, SPECIES_MEASUREMENT, speciesCountsStatement, speciesSourceStatement } from './influxql.ts';
import { alertsToPoints, evaluationsToPoints, pipelineToPoints, toLine, toPoint } from './lineprotocol.ts';
import { checkLatestFilter, checkSpeciesQuery, normalizeRange, sortLatest } from './queries.ts';
import { type LatestEntry, type LatestFilter, type AlertPoint, type EvaluationPoint, type PipelinePoint, type RangeQuery, type ReadingStore, RetryableStorageError, type SeriesPoint, type StoredReading, type WriteOutcome } from '../core/store.ts';

export interface InfluxStoreOptions {
  logger: Logger;
  metrics?: PipelineMetrics;
  /** HTTP client for v1 writes, reads, ping and start (default: the global `fetch`). v2 writes use the influxdb-client's transport. */
  fetch?: typeof fetch;
  /** How long hourly and daily aggregates are kept (v1: the durations of the retention policies Steward creates). */
  aggregates?: Partial<AggregateRetention>;
  /** How often written hours are summarised, ms (default 60 s; 0: only when `downsample()` is called). */
  downsampleIntervalMs?: number;
}

/** Where one tier of aggregates is written and read. */
interface Target {
  db: string;
  rp?: string;
  /** v2: the bucket written to. */
  bucket?: string;
}

/** Hours summarised per InfluxQL statement. */
const DOWNSAMPLE_CHUNK_MS = 7 * DAY_MS;

/** Outcome of one HTTP write attempt that got an answer. */
type Answer = { ok: true } | { ok: false; status: number; reason: string; retryAfterMs?: number };

interface Item {
  /** Index of the reading (or point) in the caller's batch. */
  index: number;
  line: string;
}

/** One statement's result in the JSON answer of `/query`. */
interface QueryResult {
  series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }>;
  error?: string;
}

/** Queries longer than this (URL-encoded) go in a POST form body instead of the URL. */
const MAX_GET_QUERY = 4000;
/** Misconfiguration is logged at error level at most this often per status. */
const LOUD_LOG_INTERVAL_MS = 60_000;

/**
 * The server's own words from an error body: `{"error": …}` (1.x), `{"message": …}` (2.x), 3.x's
 * `{"error": …, "data": [{"error_message": …}]}`, or the text.
 */
export function errorReason(body: string, headerError?: string | null): string {
  let reason = headerError ?? '';
  if (!reason) {
    try {
      const j = JSON.parse(body) as { error?: unknown; message?: unknown; data?: unknown };
      if (typeof j.message === 'string') reason = j.message;
      else if (typeof j.error === 'string') reason = j.error;
      const detail = Array.isArray(j.data) ? (j.data[0] as { error_message?: unknown } | undefined)?.error_message : undefined;
      if (typeof detail === 'string') reason = reason ? `${reason}: ${detail}` : detail;
    } catch {
      // not JSON
    }
  }
  if (!reason) reason = body.trim();
  return reason.length > 1000 ? `${reason.slice(0, 1000)}…` : reason || '(no message)';
}

function headerValue(headers: HttpHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return Array.isArray(v) ? v[0] : v;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code ?? (e.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}

/**
 * Builds an InfluxDB store. Does not touch the network (that is `start`).
 *
 * @param cfg - `storage.influx` from the config; `api` picks the write path, `timeoutMs` bounds
 *   every request
 * @param opts - logger, metrics (`storageWriteSeconds{store,outcome}`, `storageErrors{store,retryable}`),
 *   an optional `fetch`
 */
export function createInfluxStore(cfg: InfluxConfig, opts: InfluxStoreOptions): InfluxStore {
  return new InfluxStore(cfg, opts);
}

export class InfluxStore implements ReadingStore {
  /** `influxdb-v1` or `influxdb-v2`. */
  readonly kind: 'influxdb-v1' | 'influxdb-v2';
  readonly #cfg: InfluxConfig;
  readonly #log: Logger;
  readonly #metrics: PipelineMetrics | undefined;
  readonly #fetch: typeof fetch;
  readonly #base: string;
  readonly #client: InfluxDB | undefined;
  readonly #lastLoud = new Map<number, number>();
  readonly #aggRetention: AggregateRetention;
  readonly #downsampleIntervalMs: number;
  /** Hours (bucket starts) this store wrote to, per domain, not yet summarised. */
  readonly #dirty = new Map<Domain, Set<number>>();
  #downsampling: Promise<DownsampleOutcome> | undefined;
  #downsampleTimer: NodeJS.Timeout | undefined;
  #lastDownsampleWarn = -Infinity;
  /** The hours of earlier runs have been marked (see {@link InfluxStore.catchUp}). */
  #caughtUp = false;
  #stopped = false;

  constructor(cfg: InfluxConfig, opts: InfluxStoreOptions) {
    this.#cfg = cfg;
    this.kind = cfg.api === 'v2' ? 'influxdb-v2' : 'influxdb-v1';
    this.#log = opts.logger.child({ component: 'storage', store: this.kind });
    this.#metrics = opts.metrics;
    this.#fetch = opts.fetch ?? fetch;
    this.#base = cfg.url.replace(/\/+$/, '');
    this.#aggRetention = { ...DEFAULT_AGGREGATE_RETENTION, ...opts.aggregates };
    this.#downsampleIntervalMs = Math.min(opts.downsampleIntervalMs ?? 60_000, MAX_TIMER_MS);
    if (cfg.api === 'v2') {
      const c: ConstructorParameters<typeof InfluxDB>[0] = { url: this.#base, timeout: cfg.timeoutMs };
      if (cfg.token) c.token = cfg.token;
      this.#client = new InfluxDB(c);
    }
  }

  /**
   * The database InfluxQL reads address: v1 the database; v2 the bucket, through its DBRP mapping
   * (InfluxDB 2.x maps a bucket `b` to database `b` and a bucket `db/rp` to database `db`, retention
   * policy `rp`; 3.x names databases like buckets).
   */
  get #db(): string {
    if (this.#cfg.api === 'v2') return (this.#cfg.bucket ?? '').split('/')[0] ?? '';
    return this.#cfg.database ?? '';
  }

  /** Retention policy qualifying InfluxQL `FROM`: v1 the configured one; v2 the part after `/` in the bucket name. */
  get #rp(): string | undefined {
    if (this.#cfg.api === 'v2') {
      const bucket = this.#cfg.bucket ?? '';
      const slash = bucket.indexOf('/');
      return slash >= 0 ? bucket.slice(slash + 1) || undefined : undefined;
    }
    return this.#cfg.retentionPolicy || undefined;
  }

  /** Where the hourly (`1h`) or daily (`1d`) aggregates live. */
  #target(tier: '1h' | '1d'): Target {
    const agg = this.#cfg.aggregates;
    if (this.#cfg.api === 'v2') {
      const bucket = (tier === '1h' ? agg.hourlyBucket : agg.dailyBucket) ?? this.#cfg.bucket ?? '';
      const slash = bucket.indexOf('/');
      const t: Target = { db: slash >= 0 ? bucket.slice(0, slash) : bucket, bucket };
      if (slash >= 0 && bucket.length > slash + 1) t.rp = bucket.slice(slash + 1);
      return t;
    }
    return { db: this.#db, rp: tier === '1h' ? agg.hourlyRetentionPolicy : agg.dailyRetentionPolicy };
  }

  #authHeaders(): Record<string, string> {
    if (this.#cfg.api === 'v2') return this.#cfg.token ? { authorization: `Token ${this.#cfg.token}` } : {};
    if (this.#cfg.username !== undefined) {
      const basic = Buffer.from(`${this.#cfg.username}:${this.#cfg.password ?? ''}`).toString('base64');
      return { authorization: `Basic ${basic}` };
    }
    return {};
  }

  /** v1: `CREATE DATABASE` (idempotent); a refusal (no admin rights) or an unreachable server is logged, never thrown. */
  async start(): Promise<void> {
    this.#stopped = false;
    if (this.#cfg.api === 'v1') await this.#createDatabase();
    else if (!(await this.ping())) this.#log.warn({ url: this.#base }, 'InfluxDB is not reachable yet; writes will be retried from the spool');
    this.#caughtUp = false;
    this.#scheduleDownsample(Math.min(this.#downsampleIntervalMs, 10_000));
  }

  /**
   * Marks for summarising what earlier runs (or tools) wrote and no pass summarised: per domain,
   * the hours from the newest hourly bucket on (a restart), or, with no buckets at all, from the
   * oldest reading (a database from before aggregates: its whole history, once). Two small
   * queries per domain; run by the first scheduled pass after `start()`.
   */
  async catchUp(): Promise<number> {
    const hourT = this.#target('1h');
    const domains = [...DOMAINS];
    const newest = await this.#query(domains.map((d) => `SELECT * FROM ${fromClause(aggMeasurement(d, '1h'), hourT.rp)} ORDER BY time DESC LIMIT 1`), hourT.db);
    const oldest = await this.#query(domains.map((d) => `SELECT ${quoteIdent('seq')} FROM ${fromClause(d, this.#rp)} ORDER BY time ASC LIMIT 1`));
    const time = (r: QueryResult | undefined): number | undefined => {
      const s = r?.series?.[0];
      const t = s?.values?.[0]?.[s.columns.indexOf('time')];
      return typeof t === 'number' ? t : undefined;
    };
    const now = Date.now();
    let marked = 0;
    domains.forEach((d, i) => {
      const from = time(newest[i]) ?? time(oldest[i]);
      if (from === undefined) return;
      for (let h = floorTo(from, HOUR_MS); h <= now; h += HOUR_MS, marked++) this.#markDirty(d, h);
    });
    if (marked > 24) this.#log.info({ hours: marked }, 'aggregates: summarising hours written before this start');
    return marked;
  }

  /** v1: the database and the aggregates' retention policies (logged, never thrown, when refused). */
  async #createDatabase(): Promise<void> {
    try {
      const res = await this.#fetch(`${this.#base}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.#authHeaders() },
        body: new URLSearchParams({ q: `CREATE DATABASE ${quoteIdent(this.#db)}` }),
        signal: AbortSignal.timeout(this.#cfg.timeoutMs),
      });
      const text = await res.text();
      let stmtError: string | undefined;
      try {
        const j = JSON.parse(text) as { error?: string; results?: QueryResult[] };
        stmtError = j.error ?? j.results?.find((r) => r.error)?.error;
      } catch {
        // not JSON
      }
      if (!res.ok || stmtError) this.#log.warn({ status: res.status, reason: stmtError ?? errorReason(text) }, `could not create database ${this.#db} (it may exist already, or this user may lack the right)`);
      else this.#log.info({ database: this.#db }, 'database ready');
    } catch (e) {
      this.#log.warn({ url: this.#base, err: describe(e) }, 'InfluxDB is not reachable yet; writes will be retried from the spool');
      return;
    }
    // Few, long shards: the aggregates of a year fit in a handful of shards.
    for (const [tier, days, shard] of [['1h', this.#aggRetention.hourlyDays, '30d'], ['1d', this.#aggRetention.dailyDays, '180d']] as const) {
      const rp = quoteIdent(this.#target(tier).rp ?? '');
      const on = `ON ${quoteIdent(this.#db)} DURATION ${days}d REPLICATION 1 SHARD DURATION ${shard}`;
      try {
        await this.#query([`CREATE RETENTION POLICY ${rp} ${on}`]);
      } catch {
        try {
          await this.#query([`ALTER RETENTION POLICY ${rp} ${on}`]);
        } catch (e) {
          this.#log.warn({ rp: this.#target(tier).rp, err: describe(e) }, 'could not create the retention policy of the aggregates (this user may lack the right); they are written to it all the same');
        }
      }
    }
  }

  /** Nothing is buffered here; later writes throw `RetryableStorageError`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#downsampleTimer) clearTimeout(this.#downsampleTimer);
    this.#downsampleTimer = undefined;
    await this.#downsampling?.catch(() => undefined);
  }

  /** `GET /ping` answers 2xx (204 on 1.x/2.x). */
  async ping(): Promise<boolean> {
    try {
      const res = await this.#fetch(`${this.#base}/ping`, { headers: this.#authHeaders(), signal: AbortSignal.timeout(this.#cfg.timeoutMs) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  /**
   * Writes readings, one point each. Readings that do not fit the schema and lines the server
   * refuses for good (400/422, or 413 for a single line) come back in `rejected` with the reason;
   * the rest are stored.
   *
   * @throws RetryableStorageError when the outcome cannot be known or the server is misconfigured
   *   (network error, timeout, 5xx, 429 with `retryAfterMs` from `Retry-After`, 401/403/404)
   */
  async write(readings: StoredReading[]): Promise<WriteOutcome> {
    const items: Item[] = [];
    const rejected: WriteOutcome['rejected'] = [];
    readings.forEach((r, index) => {
      try {
        items.push({ index, line: toLine(toPoint(r)) });
        this.#markDirty(r.domain, r.ts);
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        rejected.push({ index, reason: e.message });
      }
    });
    return this.#writeItems(items, rejected);
  }

  noteWritten(domain: Domain, ts: number): void {
    this.#markDirty(domain, ts);
  }

  #markDirty(domain: Domain, ts: number): void {
    let hours = this.#dirty.get(domain);
    if (!hours) this.#dirty.set(domain, (hours = new Set()));
    hours.add(floorTo(ts, HOUR_MS));
  }

  /**
   * Lower-level: writes client `Point`s as they are (ms timestamps), with the same classification
   * and bisection as {@link InfluxStore.write}. For tools and tests; ingest uses `write`.
   */
  async writePoints(points: Point[]): Promise<WriteOutcome> {
    const items: Item[] = [];
    const rejected: WriteOutcome['rejected'] = [];
    points.forEach((p, index) => {
      try {
        items.push({ index, line: toLine(p) });
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        rejected.push({ index, reason: e.message });
      }
    });
    return this.#writeItems(items, rejected);
  }

  /** Self-telemetry to the `pipeline` measurement; failures are logged, never thrown. */
  async writePipeline(points: PipelinePoint[]): Promise<void> {
    if (points.length) await this.#writeBestEffort(() => pipelineToPoints(points), 'pipeline telemetry');
  }

  async writeAlerts(points: AlertPoint[]): Promise<void> {
    if (points.length === 0) return;
    const items = alertsToPoints(points).map((p, index) => ({ index, line: toLine(p) }));
    const out = await this.#writeItems(items, []);
    if (out.rejected.length) this.#log.warn({ rejected: out.rejected.slice(0, 5) }, 'alert points refused');
  }

  /** Rule evaluations to `rule_evaluations`; best effort like telemetry (the rules engine keeps its own state). */
  async writeEvaluations(points: EvaluationPoint[]): Promise<void> {
    if (points.length) await this.#writeBestEffort(() => evaluationsToPoints(points), 'rule evaluations');
  }

  /** Writes points whose loss is acceptable: refusals and failures are logged, never thrown. */
  async #writeBestEffort(toPoints: () => Point[], what: string): Promise<void> {
    try {
      const items = toPoints().map((p, index) => ({ index, line: toLine(p) }));
      const out = await this.#writeItems(items, []);
      if (out.rejected.length) this.#log.warn({ rejected: out.rejected.slice(0, 5) }, `${what} refused`);
    } catch (e) {
      // During an outage this would repeat on every call: the write errors are counted in metrics already.
      if (e instanceof RetryableStorageError) this.#log.debug({ err: describe(e) }, `${what} not written`);
      else this.#log.warn({ err: describe(e) }, `${what} not written`);
    }
  }

  #writeItems(items: Item[], rejected: WriteOutcome['rejected'], target?: Target): Promise<WriteOutcome> {
    return recordWrite({ store: this.kind, metrics: this.#metrics, log: this.#log, what: 'points' }, async () => {
      if (this.#stopped) throw new RetryableStorageError(`${this.kind} store is stopped`);
      const written = items.length ? await this.#sendBisect(items, rejected, target) : 0;
      rejected.sort((a, b) => a.index - b.index);
      return { written, rejected };
    });
  }

  /** Sends `items`; on 400/422/413 splits the batch in halves down to single lines. Returns lines stored. */
  async #sendBisect(items: Item[], rejected: WriteOutcome['rejected'], target?: Target): Promise<number> {
    const a = await this.#send(items.map((i) => i.line), target);
    if (a.ok) return items.length;
    const { status, reason } = a;
    const refused = status === 400 || status === 422;
    if (refused || status === 413) {
      if (items.length === 1) {
        const first = items[0] as Item;
        rejected.push({ index: first.index, reason: status === 413 ? `InfluxDB 413: point too large: ${reason}` : `InfluxDB ${status}: ${reason}` });
        return 0;
      }
      // Good lines of a 1.x partial write are stored already; sending them again overwrites them.
      const mid = Math.ceil(items.length / 2);
      return (await this.#sendBisect(items.slice(0, mid), rejected, target)) + (await this.#sendBisect(items.slice(mid), rejected, target));
    }
    if (status === 429 || status >= 500) {
      throw new RetryableStorageError(`InfluxDB answered ${status}: ${reason}`, a.retryAfterMs);
    }
    // 401, 403, 404 and anything unexpected: misconfiguration (token, org, bucket, database, URL,
    // or a server without this API, e.g. /api/v2/write on InfluxDB < 1.8). Keep the data, shout.
    this.#loud(status, reason);
    throw new RetryableStorageError(`InfluxDB refused the write with ${status} (check url, credentials, org/bucket or database): ${reason}`, a.retryAfterMs);
  }

  #loud(status: number, reason: string): void {
    const now = Date.now();
    const last = this.#lastLoud.get(status) ?? -Infinity;
    const details = { status, reason, url: this.#base, api: this.#cfg.api, org: this.#cfg.org, bucket: this.#cfg.bucket, database: this.#cfg.database };
    if (now - last >= LOUD_LOG_INTERVAL_MS) {
      this.#lastLoud.set(status, now);
      this.#log.error(details, 'InfluxDB refuses writes: configuration problem? Readings stay in the spool and will be retried');
    } else {
      this.#log.debug(details, 'InfluxDB still refuses writes');
    }
  }

  async #send(lines: string[], target?: Target): Promise<Answer> {
    return this.#cfg.api === 'v2' ? this.#sendV2(lines, target?.bucket) : this.#sendV1(lines, target?.rp);
  }

  /** v1: `POST /write?db=&rp=&precision=ms`. */
  async #sendV1(lines: string[], rp = this.#cfg.retentionPolicy): Promise<Answer> {
    const params = new URLSearchParams({ db: this.#db, precision: 'ms' });
    if (rp) params.set('rp', rp);
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(`${this.#base}/write?${params.toString()}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8', ...this.#authHeaders() },
        body: lines.join('\n'),
        signal: AbortSignal.timeout(this.#cfg.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      throw new RetryableStorageError(`InfluxDB not reachable: ${describe(e)}`, undefined, { cause: e });
    }
    if (res.status >= 200 && res.status < 300) return { ok: true };
    const answer: Answer = { ok: false, status: res.status, reason: errorReason(text, res.headers.get('x-influxdb-error')) };
    const ra = parseRetryAfter(res.headers.get('retry-after'));
    if (ra !== undefined) answer.retryAfterMs = ra;
    return answer;
  }

  /**
   * v2: the influxdb-client's WriteApi (`/api/v2/write`, token, org, bucket, precision ms), one per
   * request so concurrent writes never share a buffer, with its own retries and timers off: it is
   * a transport here, not a buffer (it would drop 4xx and keep retries in memory).
   */
  async #sendV2(lines: string[], bucket = this.#cfg.bucket ?? ''): Promise<Answer> {
    const client = this.#client as InfluxDB;
    const api = client.getWriteApi(this.#cfg.org ?? '', bucket, 'ms', {
      maxRetries: 0,
      flushInterval: 0,
      batchSize: lines.length + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      // Returning a promise makes it the flush's outcome: no retry, no console logging by the client.
      writeFailed: (error: Error) => Promise.reject(error),
    });
    try {
      api.writeRecords(lines);
      await api.flush();
      return { ok: true };
    } catch (e) {
      if (e instanceof HttpError) {
        if (e.statusCode >= 200 && e.statusCode < 300) return { ok: true };
        const answer: Answer = { ok: false, status: e.statusCode, reason: errorReason(e.body ?? '', headerValue(e.headers, 'x-influxdb-error')) };
        const ra = parseRetryAfter(headerValue(e.headers, 'retry-after'));
        if (ra !== undefined) answer.retryAfterMs = ra;
        return answer;
      }
      throw new RetryableStorageError(`InfluxDB not reachable: ${describe(e)}`, undefined, { cause: e });
    } finally {
      api.dispose();
    }
  }

  /** Runs InfluxQL statements in one request (`;`-separated) and returns one result per statement. */
  async #query(statements: string[], db = this.#db): Promise<QueryResult[]> {
    const params = new URLSearchParams({ db, epoch: 'ms', q: statements.join(';\n') });
    const headers = this.#authHeaders();
    const long = params.toString().length > MAX_GET_QUERY;
    let res: Response;
    let text: string;
    try {
      res = long
        ? await this.#fetch(`${this.#base}/query`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: params, signal: AbortSignal.timeout(this.#cfg.timeoutMs) })
        : await this.#fetch(`${this.#base}/query?${params.toString()}`, { headers, signal: AbortSignal.timeout(this.#cfg.timeoutMs) });
      text = await res.text();
    } catch (e) {
      throw new RetryableStorageError(`InfluxDB not reachable: ${describe(e)}`, undefined, { cause: e });
    }
    if (res.status === 429 || res.status >= 500) throw new RetryableStorageError(`InfluxDB answered ${res.status}: ${errorReason(text)}`, parseRetryAfter(res.headers.get('retry-after')));
    if (!res.ok) throw new StorageError('STORAGE_ERR_QUERY_FAILED', `InfluxDB refused the query with ${res.status}: ${errorReason(text, res.headers.get('x-influxdb-error'))}`);
    let body: { results?: QueryResult[]; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (e) {
      throw new StorageError('STORAGE_ERR_QUERY_FAILED', `InfluxDB answered the query with something other than JSON: ${text.slice(0, 200)}`, { cause: e });
    }
    const err = body.error ?? body.results?.find((r) => r.error)?.error;
    if (err) {
      const hint = this.#cfg.api === 'v2' && /database not found/i.test(err) ? ` (InfluxDB 2.x reads the bucket through a DBRP mapping: create one for bucket ${this.#cfg.bucket ?? ''})` : '';
      throw new StorageError('STORAGE_ERR_QUERY_FAILED', `InfluxQL error: ${err}${hint}`);
    }
    const results = body.results ?? [];
    return statements.map((_, i) => results[i] ?? {});
  }

  /**
   * One entry per hub, sensor and metric with its most recent value. One request: a `last()`
   * statement per catalogue metric of the selected domains, bounded to the last `latestWindowMs`
   * (so only recent shards are read), and `SHOW SERIES` per domain (answered by the index). Series
   * the index knows but the window did not show (sensors silent for longer) are then looked up by
   * sensor without a time bound: only they cost what history costs.
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY` for an invalid filter, `STORAGE_ERR_QUERY_FAILED`
   *   when the server refuses the query; RetryableStorageError when it is unreachable or overloaded
   */
  async latest(filter: LatestFilter): Promise<LatestEntry[]> {
    checkLatestFilter(filter);
    const stmts = latestStatements(filter, this.#rp, { since: `now() - ${this.#cfg.latestWindowMs}ms` });
    const shows = showSeriesStatements(filter, this.#rp);
    const results = await this.#query([...stmts.map((st) => st.text), ...shows.map((sh) => sh.text)]);
    const best = new Map<string, LatestEntry>();
    const seen = new Set<string>();
    this.#collectLatest(stmts, results, best, seen);
    const missing = new Map<Domain, Set<string>>();
    shows.forEach((sh, i) => {
      for (const s of results[stmts.length + i]?.series ?? []) {
        for (const row of s.values ?? []) {
          const tags = parseSeriesKey(String(row[0]));
          if (!tags.sensor || seen.has(`${sh.domain}\u0000${tags.hub}\u0000${tags.site}\u0000${tags.sensor}\u0000${tags.kind}`)) continue;
          let set = missing.get(sh.domain);
          if (!set) missing.set(sh.domain, (set = new Set()));
          set.add(tags.sensor);
        }
      }
    });
    if (missing.size) {
      const older = [...missing].flatMap(([domain, sensors]) => latestStatements({ ...filter, domain }, this.#rp, { sensors: [...sensors].sort() }));
      this.#collectLatest(older, await this.#query(older.map((st) => st.text)), best, seen);
    }
    return sortLatest([...best.values()]);
  }

  #collectLatest(stmts: Array<{ domain: Domain; metric: string }>, results: QueryResult[], best: Map<string, LatestEntry>, seen: Set<string>): void {
    stmts.forEach((st, i) => {
      const unit = metricDef(st.metric)?.unit ?? '';
      for (const s of results[i]?.series ?? []) {
        const tags = s.tags ?? {};
        const ti = s.columns.indexOf('time');
        const vi = s.columns.indexOf('value');
        const si = s.columns.indexOf('species');
        for (const row of s.values ?? []) {
          const value = row[vi];
          const ts = row[ti];
          if (typeof value !== 'number' || typeof ts !== 'number') continue;
          const e: LatestEntry = { hub: tags.hub ?? '', domain: st.domain, sensor: tags.sensor ?? '', site: tags.site ?? '', kind: tags.kind ?? '', metric: st.metric, value, unit, ts };
          const species = si >= 0 ? row[si] : undefined;
          if (typeof species === 'string') e.species = species;
          seen.add(`${e.domain}\u0000${e.hub}\u0000${e.site}\u0000${e.sensor}\u0000${e.kind}`);
          // A sensor that moved site or kind is several series: keep its most recent value.
          const key = `${e.hub}\u0000${e.domain}\u0000${e.sensor}\u0000${e.metric}`;
          const prev = best.get(key);
          if (!prev || e.ts >= prev.ts) best.set(key, e);
        }
      }
    });
  }

  /**
   * A metric of one sensor over `[from, to)`: raw points in time order, or epoch-aligned windows
   * (timestamp = window start, empty windows left out).
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY` / `STORAGE_ERR_QUERY_FAILED`; RetryableStorageError
   */
  async range(query: RangeQuery): Promise<SeriesPoint[]> {
    const q = normalizeRange(query);
    if (q.from >= q.to) return [];
    if (q.resolution !== 'raw') {
      await this.downsample(); // what this store wrote and has not summarised yet
      const target = this.#target(q.resolution);
      const [res] = await this.#query([aggregateRangeStatement(q, q.resolution, target.rp)], target.db);
      const rows: AggregateRow[] = [];
      for (const s of res?.series ?? []) {
        const ti = s.columns.indexOf('time');
        const idx = AGG_FIELDS.map((f) => s.columns.indexOf(aggField(q.metric, f)));
        for (const row of s.values ?? []) {
          const [min, max, sum, count, last] = idx.map((i) => row[i]);
          const ts = row[ti];
          if (typeof ts !== 'number' || typeof count !== 'number' || count <= 0) continue;
          if (typeof min !== 'number' || typeof max !== 'number' || typeof sum !== 'number' || typeof last !== 'number') continue;
          rows.push({ ts, min, max, sum, count, last });
        }
      }
      rows.sort((a, b) => a.ts - b.ts);
      return rebucket(rows, q.windowMs ?? RESOLUTION_MS[q.resolution], q.agg, q.limit);
    }
    const [res] = await this.#query([rangeStatement(q, this.#rp)]);
    const out: SeriesPoint[] = [];
    for (const s of res?.series ?? []) {
      const ti = s.columns.indexOf('time');
      const vi = s.columns.indexOf('value');
      for (const row of s.values ?? []) {
        const ts = row[ti];
        const value = row[vi];
        if (typeof ts === 'number' && typeof value === 'number') out.push({ ts, value });
      }
    }
    return out.sort((a, b) => a.ts - b.ts).slice(0, q.limit);
  }

  /**
   * Summarises the hours this store wrote since the last pass: hourly buckets from the readings,
   * daily buckets from the hourly ones, daily species counts from biodiversity readings, written
   * as points (same tags and time overwrite, so a pass repeated gives the same points). Passes
   * never overlap. A server that does not answer InfluxQL (`STORAGE_ERR_QUERY_FAILED`) drops the
   * pending hours; an outage keeps them for the next pass.
   */
  async downsample(): Promise<DownsampleOutcome> {
    const run = (this.#downsampling ?? Promise.resolve()).catch(() => undefined).then(() => this.#downsampleDirty());
    this.#downsampling = run;
    return run;
  }

  /** Summarises `[from, to)` of every domain again (e.g. history written before aggregates existed). */
  async downsampleRange(from: number, to: number): Promise<DownsampleOutcome> {
    for (let h = floorTo(from, HOUR_MS); h < to; h += HOUR_MS) for (const d of DOMAINS) this.#markDirty(d, h);
    return this.downsample();
  }

  async #downsampleDirty(): Promise<DownsampleOutcome> {
    const total: DownsampleOutcome = { hours: 0, days: 0, speciesDays: 0 };
    for (const [domain, set] of this.#dirty) {
      if (!set.size) continue;
      const hours = [...set].sort((a, b) => a - b);
      this.#dirty.set(domain, new Set());
      try {
        await this.#downsampleHours(domain, hours, total);
      } catch (e) {
        if (!(e instanceof StorageError)) {
          const back = this.#dirty.get(domain);
          for (const h of hours) back?.add(h);
        }
        throw e;
      }
    }
    return total;
  }

  async #downsampleHours(domain: Domain, hours: number[], total: DownsampleOutcome): Promise<void> {
    const hourT = this.#target('1h');
    const dayT = this.#target('1d');
    const days: number[] = [];
    for (const [lo, hi] of runs(hours, HOUR_MS)) {
      const [res] = await this.#query([hourlyDownsampleStatement(domain, lo, hi, this.#rp)]);
      total.hours += await this.#writeAggregates(aggMeasurement(domain, '1h'), domain, res, hourT);
      for (let d = floorTo(lo, DAY_MS); d < hi; d += DAY_MS) if (days.at(-1) !== d) days.push(d);
    }
    for (const [lo, hi] of runs(days, DAY_MS)) {
      const [res] = await this.#query([dailyDownsampleStatement(domain, lo, hi, hourT.rp)], hourT.db);
      total.days += await this.#writeAggregates(aggMeasurement(domain, '1d'), domain, res, dayT);
      if (domain === 'biodiversity') total.speciesDays += await this.#downsampleSpecies(lo, hi, dayT);
    }
  }

  /** Writes the buckets of one downsampling answer as points; returns how many. */
  async #writeAggregates(measurement: string, domain: Domain, res: QueryResult | undefined, target: Target): Promise<number> {
    const lines: string[] = [];
    const defs = metricsOf(domain);
    for (const s of res?.series ?? []) {
      const tags = s.tags ?? {};
      const ti = s.columns.indexOf('time');
      const cols = defs.map((def) => AGG_FIELDS.map((f) => [aggField(def.name, f), s.columns.indexOf(aggField(def.name, f))] as const));
      for (const row of s.values ?? []) {
        const ts = row[ti];
        if (typeof ts !== 'number') continue;
        const p = new Point(measurement).tag('hub', tags.hub ?? '').tag('site', tags.site ?? '').tag('sensor', tags.sensor ?? '').tag('kind', tags.kind ?? '').timestamp(ts);
        let fields = 0;
        for (const metric of cols) {
          const values = metric.map(([, i]) => row[i]);
          if (!values.every((v) => typeof v === 'number') || (values[3] as number) <= 0) continue;
          metric.forEach(([name], k) => p.floatField(name, values[k] as number));
          fields++;
        }
        if (fields) lines.push(toLine(p));
      }
    }
    await this.#writeAggregateLines(lines, target);
    return lines.length;
  }

  /** Daily species counts of `[from, to)` (whole days) per hub and site from the biodiversity readings. */
  async #downsampleSpecies(from: number, to: number, target: Target): Promise<number> {
    const [res] = await this.#query([speciesSourceStatement(from, to, this.#rp)]);
    const acc = new Map<string, SpeciesCount>();
    for (const s of res?.series ?? []) {
      const hub = s.tags?.hub ?? '';
      const site = s.tags?.site ?? '';
      const ti = s.columns.indexOf('time');
      const ci = s.columns.indexOf('count');
      const si = s.columns.indexOf('species');
      for (const row of s.values ?? []) {
        const ts = row[ti];
        const species = row[si];
        const count = row[ci];
        if (typeof ts !== 'number' || typeof species !== 'string') continue;
        const day = floorTo(ts, DAY_MS);
        const key = `${hub}\u0000${site}\u0000${species}\u0000${day}`;
        const c = acc.get(key) ?? { hub, site, species, day, detections: 0, individuals: 0 };
        c.detections++;
        if (typeof count === 'number') c.individuals += count;
        acc.set(key, c);
      }
    }
    // The species is a field: a free-text tag could break the line or end in `\`. Its hash keys the series.
    const lines = [...acc.values()].map((c) =>
      toLine(
        new Point(SPECIES_MEASUREMENT)
          .tag('hub', c.hub)
          .tag('site', c.site)
          .tag('taxon', createHash('sha256').update(c.species).digest('hex').slice(0, 16))
          .stringField('species', c.species)
          .floatField('detections', c.detections)
          .floatField('individuals', c.individuals)
          .timestamp(c.day),
      ),
    );
    await this.#writeAggregateLines(lines, target);
    return lines.length;
  }

  async #writeAggregateLines(lines: string[], target: Target): Promise<void> {
    for (let i = 0; i < lines.length; i += 5000) {
      const out = await this.#writeItems(lines.slice(i, i + 5000).map((line, index) => ({ index, line })), [], target);
      if (out.rejected.length) this.#log.warn({ rejected: out.rejected.slice(0, 3) }, 'aggregate points refused');
    }
  }

  /**
   * Species seen per hub, site and UTC day (days starting in `[from, to)`), from `species_1d`.
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY` / `STORAGE_ERR_QUERY_FAILED`; RetryableStorageError
   */
  async speciesCounts(q: SpeciesQuery): Promise<SpeciesCount[]> {
    checkSpeciesQuery(q);
    await this.downsample();
    const target = this.#target('1d');
    const [res] = await this.#query([speciesCountsStatement(q, target.rp)], target.db);
    const out: SpeciesCount[] = [];
    for (const s of res?.series ?? []) {
      const ti = s.columns.indexOf('time');
      const [si, di, ii] = ['species', 'detections', 'individuals'].map((c) => s.columns.indexOf(c)) as [number, number, number];
      for (const row of s.values ?? []) {
        const [day, species, detections, individuals] = [row[ti], row[si], row[di], row[ii]];
        if (typeof day !== 'number' || typeof species !== 'string' || typeof detections !== 'number' || typeof individuals !== 'number') continue;
        out.push({ hub: s.tags?.hub ?? '', site: s.tags?.site ?? '', species, day, detections, individuals });
      }
    }
    const key = (c: SpeciesCount): string => `${c.hub}\u0000${c.site}\u0000${String(c.day).padStart(16, '0')}\u0000${c.species}`;
    return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  #scheduleDownsample(delayMs: number): void {
    if (this.#downsampleIntervalMs <= 0 || this.#stopped || this.#downsampleTimer) return;
    this.#downsampleTimer = setTimeout(() => {
      // A server that does not answer InfluxQL (StorageError) has nothing to catch up; an outage is tried again.
      const caught = (): void => void (this.#caughtUp = true);
      const catchUp = this.#caughtUp ? Promise.resolve() : this.catchUp().then(caught, (e: unknown) => (e instanceof StorageError ? caught() : Promise.reject(e)));
      catchUp
        .then(() => this.downsample())
        .catch((e: unknown) => {
          const now = Date.now();
          if (now - this.#lastDownsampleWarn >= 10 * 60_000) {
            this.#lastDownsampleWarn = now;
            this.#log.warn({ err: describe(e) }, 'downsampling into the aggregates failed; long ranges may miss recent hours');
          }
        })
        .finally(() => {
          this.#downsampleTimer = undefined;
          this.#scheduleDownsample(this.#downsampleIntervalMs);
        });
    }, delayMs);
    this.#downsampleTimer.unref();
  }
}

/** Tags of a `SHOW SERIES` key such as `water,hub=demo,kind=piezometer,sensor=well-1,site=north` (ids need no unescaping). */
function parseSeriesKey(key: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of key.split(',').slice(1)) {
    const eq = part.indexOf('=');
    if (eq > 0) tags[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return tags;
}

/** Sorted bucket starts as `[from, to)` runs of at most {@link DOWNSAMPLE_CHUNK_MS}. */
function runs(starts: readonly number[], size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const t of starts) {
    const last = out.at(-1);
    if (last && t + size - last[0] <= DOWNSAMPLE_CHUNK_MS) last[1] = Math.max(last[1], t + size);
    else out.push([t, t + size]);
  }
  return out;
}
