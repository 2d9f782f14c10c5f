/**
 * The forwarder in a worker thread, so that the event loop that runs the broker, the intake's
 * acknowledgements and the rules never waits for a spool read, the privacy boundary or a storage
 * write. The spool (SQLite, WAL) is the hand-over: the intake appends on the main thread, the
 * thread reads, filters, stores and deletes through its own connection. Nothing the devices were
 * told is safe lives only in the thread's memory, so a thread that dies loses nothing; it is
 * started again.
 *
 * Main side: {@link ForwarderThread} (what the pipeline starts, pokes and stops). Thread side:
 * {@link serveForwarder}, called by the thread's entry module with the parts it opened from the
 * config (cli/forwarder-thread.ts).
 * @module
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type MessagePort, Worker } from 'node:worker_threads';
import type { Domain } from '../core/ids.ts';
import { isSpeciesDetection } from '../core/reading.ts';
import { type ReadingStore, RetryableStorageError, runSideWrite, type SideWrite, type StoredReading, type WriteOutcome } from '../core/store.ts';
import type { Logger } from '../telemetry/log.ts';
import type { MetricsPeer, PipelineMetrics } from '../telemetry/metrics.ts';
import { Forwarder, type ForwarderOptions, type SpoolReader } from './forwarder.ts';
import type { Spool } from './spool.ts';

/** Released ids past which the main thread deletes forwarded rows in its own slices, appends or not. */
const RELEASED_CATCH_UP = 20_000;

/**
 * Which stored records the thread hands back to the main thread (public MQTT, upstream, the
 * console's live feed): every one, only the newest of each sensor per batch (enough to keep
 * retained public messages current), only species detections (biodiversity records naming a
 * species: the console's species tally), the newest of each sensor and the detections, or none.
 * Copying records nobody reads costs the main thread: at 5,000 readings/s each batch of about
 * 1,500 records handed back took 1–3 ms in its listeners alone, after the copy across, in the
 * way of alerts.
 */
export type StoredMode = 'all' | 'latest' | 'detections' | 'latest+detections' | 'none';

/** One batch storage took, as the thread reports it when asked (`reportBatches`): for benchmarks. */
export interface BatchReport {
  /** Readings storage took. */
  written: number;
  /** Readings storage refused for good (dead-lettered). */
  refused: number;
  /** Time in the store's `write`, ms. */
  writeMs: number;
  /** When the write resolved (epoch ms). */
  at: number;
  /** Sensor timestamps of the readings written (epoch ms). */
  ts: Float64Array;
}

type ToThread =
  | { t: 'go' }
  | { t: 'poke'; depth: number }
  | { t: 'mode'; mode: StoredMode }
  | { t: 'metrics'; id: number }
  | { t: 'write'; id: number; write: SideWrite }
  | { t: 'stop'; deadlineMs: number; depth: number };
type FromThread =
  | { t: 'booted' }
  | { t: 'failed'; message: string }
  | { t: 'removed'; from: number; to: number; n: number }
  | { t: 'reachable'; ok: boolean }
  | { t: 'stored'; records: StoredReading[] }
  | { t: 'written'; marks: Array<[Domain, number]> }
  | { t: 'batch'; report: BatchReport }
  | { t: 'metrics'; id: number; json: Awaited<ReturnType<MetricsPeer>> }
  | { t: 'wrote'; id: number; error?: string }
  | { t: 'stopped' };

/** What every forwarder thread's data carries besides what its entry needs to open its parts. */
export interface ForwarderThreadData {
  storedMode: StoredMode;
  reportBatches: boolean;
  /** How much lower than the main thread's the thread's scheduling priority is (0–19). */
  nice?: number;
}

export interface ForwarderThreadOptions {
  /** The thread's entry module (it opens the parts from `data` and calls {@link serveForwarder}). */
  entry: URL;
  /** Handed to the entry as `workerData` (structured-cloned: plain data only). */
  data: Record<string, unknown>;
  /** The main thread's connection to the spool: its depth follows what the thread removes. */
  spool: Spool;
  /**
   * The main thread's store: told which hours the thread wrote (`noteWritten`), and, where it has
   * `routeWrites`, its own small writes go to the thread's connection (the one writer).
   */
  store: Pick<ReadingStore, 'noteWritten' | 'routeWrites'>;
  metrics: PipelineMetrics;
  logger: Logger;
  onStored?: (records: StoredReading[]) => void;
  /** Which stored records to hand back (asked every 250 ms). Default: all with `onStored`, else none. */
  storedMode?: () => StoredMode;
  /** Each batch storage took (benchmarks). */
  onBatch?: (report: BatchReport) => void;
  /** First wait before starting a thread that died again, ms (doubles up to 30 s). Default 1000. */
  restartDelayMs?: number;
}

/** The main thread's handle on the forwarder thread: the same surface as {@link Forwarder}. */
export class ForwarderThread {
  readonly #o: ForwarderThreadOptions;
  #worker: Worker | undefined;
  #reachable = true;
  #stopping = false;
  #mode: StoredMode;
  #modeTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #restartMs: number;
  #requests = new Map<number, (json: Awaited<ReturnType<MetricsPeer>>) => void>();
  #nextId = 1;
  #stopped: (() => void) | undefined;
  readonly #peer: MetricsPeer = () => this.#metrics();

  constructor(o: ForwarderThreadOptions) {
    this.#o = o;
    this.#mode = this.#wanted();
    this.#restartMs = o.restartDelayMs ?? 1000;
  }

  /**
   * Starts the thread (loading its code, opening its parts) without forwarding yet; resolves when
   * it is ready or could not start (it is retried then). Lets a node do this before it accepts
   * devices, so that a reconnect storm does not meet the thread's start-up. `start()` boots too.
   */
  boot(): Promise<void> {
    if (!this.#worker) this.#spawn();
    return this.#booted;
  }

  start(): void {
    this.#stopping = false;
    this.#started = true;
    this.#o.metrics.peers.add(this.#peer);
    this.#o.store.routeWrites?.((write) => this.#sideWrite(write));
    if (this.#worker) this.#post({ t: 'go' });
    else this.#spawn();
    this.#modeTimer = setInterval(() => {
      // What the thread forwarded is deleted with the intake's appends; when none come, or when a
      // backlog drains faster than the appends delete (few devices, a long outage behind), here.
      const spool = this.#o.spool;
      if (spool.hasReleased() && (Date.now() - spool.lastAppendAt() > 200 || spool.releasedIds() > RELEASED_CATCH_UP)) this.#purge();
      const mode = this.#wanted();
      if (mode !== this.#mode) {
        this.#mode = mode;
        this.#post({ t: 'mode', mode });
      }
    }, 250);
    this.#modeTimer.unref();
  }

  /** Did the thread's last storage write succeed (false while no thread runs)? */
  reachable(): boolean {
    return this.#reachable && this.#worker !== undefined;
  }

  /** A full batch is waiting. */
  poke(): void {
    this.#post({ t: 'poke', depth: this.#o.spool.depth() });
  }

  /**
   * Asks the thread to forward what the spool holds until it is empty, storage fails or
   * `deadlineMs` passes, then to close its parts; waits for that (at most 5 s past the deadline,
   * then ends the thread: what it did not forward stays in the spool).
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.#stopping = true;
    // From here the main thread's store writes for itself again.
    this.#o.store.routeWrites?.(undefined);
    clearInterval(this.#modeTimer);
    clearTimeout(this.#restartTimer);
    const w = this.#worker;
    if (w) {
      const done = new Promise<void>((resolve) => {
        this.#stopped = resolve;
        w.once('exit', () => resolve());
      });
      const limit = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), deadlineMs + 5000).unref());
      this.#post({ t: 'stop', deadlineMs, depth: this.#o.spool.depth() });
      if ((await Promise.race([done, limit])) === 'late') this.#o.logger.error({ deadlineMs }, 'the forwarder thread did not stop in time; ending it (what it did not forward stays in the spool)');
      await w.terminate();
    }
    this.#worker = undefined;
    this.#purge(Number.POSITIVE_INFINITY);
    this.#o.metrics.peers.delete(this.#peer);
  }

  #purge(limit = 5000): void {
    try {
      this.#o.spool.purge(limit);
    } catch (err) {
      this.#o.logger.warn({ err }, 'could not delete forwarded readings from the spool yet; will retry');
    }
  }

  #wanted(): StoredMode {
    return this.#o.storedMode?.() ?? (this.#o.onStored ? 'all' : 'none');
  }

  #post(m: ToThread): void {
    this.#worker?.postMessage(m);
  }

  #started = false;
  #booted: Promise<void> = Promise.resolve();
  #onBooted: (() => void) | undefined;

  #spawn(): void {
    this.#booted = new Promise<void>((resolve) => {
      this.#onBooted = resolve;
      setTimeout(resolve, 30_000).unref();
    });
    const data: ForwarderThreadData & Record<string, unknown> = { ...this.#o.data, storedMode: this.#mode, reportBatches: this.#o.onBatch !== undefined };
    // The built package runs plain JavaScript. Sources (tests, benchmarks) load through tsx, which
    // a worker's own `--import` cannot do for its entry on Node 20: a bootstrap registers it first.
    const w = this.#o.entry.pathname.endsWith('.ts')
      ? new Worker(`import(${JSON.stringify(tsxLoaderUrl())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(this.#o.entry.href)}); })`, { eval: true, workerData: data, name: 'steward-forwarder' })
      : new Worker(this.#o.entry, { workerData: data, name: 'steward-forwarder' });
    this.#worker = w;
    if (this.#started) this.#post({ t: 'go' });
    w.on('message', (m: FromThread) => this.#receive(m));
    w.on('error', (err) => this.#o.logger.error({ err }, 'the forwarder thread failed'));
    w.on('exit', (code) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      this.#onBooted?.();
      for (const resolve of this.#requests.values()) resolve([]);
      this.#requests.clear();
      for (const settle of this.#writes.values()) settle('the forwarder thread stopped before the write was confirmed');
      this.#writes.clear();
      if (this.#stopping) return;
      // Its readings are still in the spool: start it again, later each time it fails again.
      this.#o.logger.error({ code, restartInMs: this.#restartMs }, 'the forwarder thread stopped; readings wait in the spool until it runs again');
      this.#restartTimer = setTimeout(() => {
        if (!this.#stopping) this.#spawn();
      }, this.#restartMs);
      this.#restartTimer.unref();
      this.#restartMs = Math.min(this.#restartMs * 2, 30_000);
    });
  }

  #receive(m: FromThread): void {
    const o = this.#o;
    switch (m.t) {
      case 'removed':
        o.spool.release(m.from, m.to, m.n);
        o.metrics.spoolDepth.set(o.spool.depth());
        this.#restartMs = o.restartDelayMs ?? 1000;
        return;
      case 'reachable':
        this.#reachable = m.ok;
        return;
      case 'stored':
        try {
          o.onStored?.(m.records);
        } catch (err) {
          o.logger.error({ err }, 'onStored hook failed');
        }
        return;
      case 'written':
        for (const [domain, ts] of m.marks) o.store.noteWritten?.(domain, ts);
        return;
      case 'batch':
        o.onBatch?.(m.report);
        return;
      case 'metrics':
        this.#requests.get(m.id)?.(m.json);
        this.#requests.delete(m.id);
        return;
      case 'wrote':
        this.#writes.get(m.id)?.(m.error);
        this.#writes.delete(m.id);
        return;
      case 'booted':
        this.#onBooted?.();
        return;
      case 'failed':
        o.logger.error({ reason: m.message }, 'the forwarder thread could not start');
        this.#onBooted?.();
        return;
      case 'stopped':
        this.#stopped?.();
    }
  }

  /** Side writes the thread has not confirmed, by id: settle with an error message or undefined (done). */
  #writes = new Map<number, (error: string | undefined) => void>();

  /** The main store's small write, done by the thread's connection; undefined while no thread runs. */
  #sideWrite(write: SideWrite): Promise<void> | undefined {
    if (!this.#worker || this.#stopping) return undefined;
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      this.#writes.set(id, (error) => (error === undefined ? resolve() : reject(new RetryableStorageError(error))));
      this.#post({ t: 'write', id, write });
    });
  }

  /** The thread's metrics, or none when it does not answer within 2 s. */
  #metrics(): ReturnType<MetricsPeer> {
    if (!this.#worker) return Promise.resolve([]);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        resolve([]);
      }, 2000);
      timer.unref();
      this.#requests.set(id, (json) => {
        clearTimeout(timer);
        resolve(json);
      });
      this.#post({ t: 'metrics', id });
    });
  }
}

/**
 * What the thread's entry opened, for {@link serveForwarder}: the forwarder's options, with the
 * thread's own spool connection and metrics registry (the main thread adds it to its /metrics).
 */
export interface ForwarderParts extends Omit<ForwarderOptions, 'spool' | 'onStored' | 'onReachable'> {
  /** The thread's own connection to the spool (it only reads). */
  spool: Spool;
  /** Closes what the entry opened (after the forwarder stopped). */
  close(): Promise<void>;
}

/**
 * Lowers this thread's scheduling priority by `nice` (Linux: a thread is a task with its own nice
 * value), so that on a busy machine the main thread — acknowledgements, rules, alert delivery —
 * gets the CPU first; the forwarder catches up in the gaps, and the backlog bound slows
 * acknowledgements when it cannot. Elsewhere a no-op.
 */
function lowerPriority(nice: number, logger: Logger): void {
  if (nice <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + nice));
  } catch (err) {
    logger.warn({ err }, 'could not lower the forwarder thread’s priority (ingest.forwarderNice)');
  }
}

/** Runs the forwarder in this thread, answering the main thread on `port` until it says stop. */
export function serveForwarder(port: MessagePort, data: ForwarderThreadData, parts: ForwarderParts): void {
  lowerPriority(data.nice ?? 0, parts.logger);
  const send = (m: FromThread, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  let mode = data.storedMode;
  // The depth the main thread last told (it appends); less what this thread forwarded since.
  let depth = parts.spool.depth();
  // This thread only reads the spool: the main thread deletes what it forwarded (Spool.release),
  // so it reads on from the last row it forwarded.
  let cursor = 0;
  const reader: SpoolReader = {
    take: (limit, afterId = 0) => parts.spool.take(limit, Math.max(afterId, cursor)),
    // The forwarder removes whole batches it took, and tells how many rows they held.
    remove: (fromId, toId, n = 0) => {
      cursor = Math.max(cursor, toId);
      depth = Math.max(0, depth - n);
      send({ t: 'removed', from: fromId, to: toId, n });
    },
    depth: () => depth,
  };
  // Hours already reported as written (the main store summarises them); a bounded memory.
  const marked = new Set<string>();
  const store = data.reportBatches ? timedStore(parts.store, (report) => send({ t: 'batch', report }, [report.ts.buffer as ArrayBuffer])) : parts.store;
  const forwarder = new Forwarder({
    spool: reader,
    store,
    privacy: parts.privacy,
    deadLetters: parts.deadLetters,
    metrics: parts.metrics,
    logger: parts.logger,
    clock: parts.clock,
    batchSize: parts.batchSize,
    flushIntervalMs: parts.flushIntervalMs,
    ...(parts.maxBackoffMs !== undefined ? { maxBackoffMs: parts.maxBackoffMs } : {}),
    onReachable: (ok) => send({ t: 'reachable', ok }),
    onStored: (records) => {
      const marks: Array<[Domain, number]> = [];
      for (const r of records) {
        const hour = Math.floor(r.ts / HOUR_MS) * HOUR_MS;
        const key = `${r.domain}:${hour}`;
        if (marked.has(key)) continue;
        if (marked.size > 10_000) marked.clear();
        marked.add(key);
        marks.push([r.domain, hour]);
      }
      if (marks.length) send({ t: 'written', marks });
      if (mode === 'all') send({ t: 'stored', records });
      else if (mode !== 'none') {
        const picked = storedSubset(records, mode);
        if (picked.length) send({ t: 'stored', records: picked });
      }
    },
  });
  // The spool's log is checkpointed here, not in the intake's commits on the main thread.
  const checkpoints = setInterval(() => {
    try {
      parts.spool.checkpoint();
    } catch (err) {
      parts.logger.debug({ err }, 'spool checkpoint failed; the next one retries');
    }
  }, 250);
  let going = false;
  port.on('message', (m: ToThread) => {
    switch (m.t) {
      case 'go':
        if (!going) forwarder.start();
        going = true;
        return;
      case 'poke':
        depth = m.depth;
        forwarder.poke();
        return;
      case 'mode':
        mode = m.mode;
        return;
      case 'metrics':
        void parts.metrics.registry.getMetricsAsJSON().then((json) => send({ t: 'metrics', id: m.id, json }));
        return;
      case 'write':
        runSideWrite(parts.store, m.write).then(
          () => send({ t: 'wrote', id: m.id }),
          (e: unknown) => send({ t: 'wrote', id: m.id, error: (e as Error).message }),
        );
        return;
      case 'stop':
        depth = m.depth;
        void (async () => {
          if (going) await forwarder.stop(m.deadlineMs);
          clearInterval(checkpoints);
          await parts.close().catch((err: unknown) => parts.logger.error({ err }, 'closing the forwarder thread failed'));
          send({ t: 'stopped' });
          port.close();
        })();
    }
  });
  send({ t: 'booted' });
}

const HOUR_MS = 3_600_000;

/** tsx's ESM register API (a dev dependency: only sources need it). */
function tsxLoaderUrl(): string {
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
}

/**
 * What a mode other than `all` and `none` hands back from a batch: the newest record of each sensor
 * (`latest`), the species detections (`detections`), or both. In the batch's order, except that
 * with both the detections that are not a sensor's newest come first: each sensor's newest record
 * is the last one handed back for it (it is what a retained public message keeps), even when a
 * device sent older readings late.
 */
export function storedSubset(records: readonly StoredReading[], mode: Exclude<StoredMode, 'all' | 'none'>): StoredReading[] {
  if (mode === 'detections') return records.filter(isSpeciesDetection);
  const newest = new Map<string, StoredReading>();
  for (const r of records) {
    const key = `${r.hub}/${r.domain}/${r.sensor}`;
    const prev = newest.get(key);
    if (!prev || r.ts >= prev.ts) newest.set(key, r);
  }
  const keep = new Set(newest.values());
  const kept = records.filter((r) => keep.has(r));
  return mode === 'latest' ? kept : [...records.filter((r) => !keep.has(r) && isSpeciesDetection(r)), ...kept];
}

/** The store, with each batch write reported (time spent, sensor timestamps of what it took). */
function timedStore(inner: ReadingStore, report: (r: BatchReport) => void): ReadingStore {
  const write = async (readings: StoredReading[]): Promise<WriteOutcome> => {
    const t0 = performance.now();
    const out = await inner.write(readings);
    const refused = new Set(out.rejected.map((x) => x.index));
    const ts = new Float64Array(readings.length - refused.size);
    let j = 0;
    readings.forEach((r, i) => {
      if (!refused.has(i)) ts[j++] = r.ts;
    });
    report({ written: out.written, refused: refused.size, writeMs: performance.now() - t0, at: Date.now(), ts });
    return out;
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'write') return write;
      const v: unknown = Reflect.get(target, prop, target);
      // Bound to the inner store: its methods may use #private fields.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
