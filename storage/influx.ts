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
 */
import { HttpError, type HttpHeaders, InfluxDB, type Point } from '@influxdata/influxdb-client';
import { parseRetryAfter } from '../core/backoff.ts';
import { metricDef } from '../core/catalogue.ts';
import type { InfluxConfig } from '../core/config.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { Logger } from '../telemetry/log.ts';
import { StorageError } from './errors.ts';
import { latestStatements, quoteIdent, rangeStatement } from './influxql.ts';
import { alertsToPoints, evaluationsToPoints, pipelineToPoints, toLine, toPoint } from './lineprotocol.ts';
import { checkLatestFilter, normalizeRange, sortLatest } from './queries.ts';
import {
  type LatestEntry,
  type LatestFilter,
  type AlertPoint,
  type EvaluationPoint,
  type PipelinePoint,
  type RangeQuery,
  type ReadingStore,
  RetryableStorageError,
  type SeriesPoint,
  type StoredReading,
  type WriteOutcome,
} from './types.ts';

export interface InfluxStoreOptions {
  logger: Logger;
  metrics?: PipelineMetrics;
  /** HTTP client for v1 writes, reads, ping and start (default: the global `fetch`). v2 writes use the influxdb-client's transport. */
  fetch?: typeof fetch;
}

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
  #stopped = false;

  constructor(cfg: InfluxConfig, opts: InfluxStoreOptions) {
    this.#cfg = cfg;
    this.kind = cfg.api === 'v2' ? 'influxdb-v2' : 'influxdb-v1';
    this.#log = opts.logger.child({ component: 'storage', store: this.kind });
    this.#metrics = opts.metrics;
    this.#fetch = opts.fetch ?? fetch;
    this.#base = cfg.url.replace(/\/+$/, '');
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
    if (this.#cfg.api !== 'v1') {
      if (!(await this.ping())) this.#log.warn({ url: this.#base }, 'InfluxDB is not reachable yet; writes will be retried from the spool');
      return;
    }
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
    }
  }

  /** Nothing is buffered here; later writes throw `RetryableStorageError`. */
  async stop(): Promise<void> {
    this.#stopped = true;
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
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        rejected.push({ index, reason: e.message });
      }
    });
    return this.#writeItems(items, rejected);
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

  async #writeItems(items: Item[], rejected: WriteOutcome['rejected']): Promise<WriteOutcome> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      if (this.#stopped) throw new RetryableStorageError(`${this.kind} store is stopped`);
      const written = items.length ? await this.#sendBisect(items, rejected) : 0;
      rejected.sort((a, b) => a.index - b.index);
      if (rejected.length) {
        outcome = 'partial';
        this.#metrics?.storageErrors.inc({ store: this.kind, retryable: 'false' }, rejected.length);
        this.#log.warn({ written, rejected: rejected.length, first: rejected[0] }, 'storage refused points for good');
      }
      return { written, rejected };
    } catch (e) {
      outcome = 'retryable';
      this.#metrics?.storageErrors.inc({ store: this.kind, retryable: 'true' });
      throw e;
    } finally {
      this.#metrics?.storageWriteSeconds.observe({ store: this.kind, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** Sends `items`; on 400/422/413 splits the batch in halves down to single lines. Returns lines stored. */
  async #sendBisect(items: Item[], rejected: WriteOutcome['rejected']): Promise<number> {
    const a = await this.#send(items.map((i) => i.line));
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
      return (await this.#sendBisect(items.slice(0, mid), rejected)) + (await this.#sendBisect(items.slice(mid), rejected));
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

  async #send(lines: string[]): Promise<Answer> {
    return this.#cfg.api === 'v2' ? this.#sendV2(lines) : this.#sendV1(lines);
  }

  /** v1: `POST /write?db=&rp=&precision=ms`. */
  async #sendV1(lines: string[]): Promise<Answer> {
    const params = new URLSearchParams({ db: this.#db, precision: 'ms' });
    if (this.#cfg.retentionPolicy) params.set('rp', this.#cfg.retentionPolicy);
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
  async #sendV2(lines: string[]): Promise<Answer> {
    const client = this.#client as InfluxDB;
    const api = client.getWriteApi(this.#cfg.org ?? '', this.#cfg.bucket ?? '', 'ms', {
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
  async #query(statements: string[]): Promise<QueryResult[]> {
    const params = new URLSearchParams({ db: this.#db, epoch: 'ms', q: statements.join(';\n') });
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
   * One entry per hub, sensor and metric with its most recent value (one InfluxQL request with a
   * `last()` statement per catalogue metric of the selected domains).
   *
   * @throws StorageError `STORAGE_ERR_INVALID_QUERY` for an invalid filter, `STORAGE_ERR_QUERY_FAILED`
   *   when the server refuses the query; RetryableStorageError when it is unreachable or overloaded
   */
  async latest(filter: LatestFilter): Promise<LatestEntry[]> {
    checkLatestFilter(filter);
    const stmts = latestStatements(filter, this.#rp);
    const results = await this.#query(stmts.map((s) => s.text));
    const best = new Map<string, LatestEntry>();
    results.forEach((res, i) => {
      const st = stmts[i];
      if (!st) return;
      const unit = metricDef(st.metric)?.unit ?? '';
      for (const s of res.series ?? []) {
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
          // A sensor that moved site or kind is several series: keep its most recent value.
          const key = `${e.hub}\u0000${e.domain}\u0000${e.sensor}\u0000${e.metric}`;
          const prev = best.get(key);
          if (!prev || e.ts >= prev.ts) best.set(key, e);
        }
      }
    });
    return sortLatest([...best.values()]);
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
}
