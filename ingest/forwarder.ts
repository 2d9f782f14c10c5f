/**
 * Drains the spool to storage: spool -> privacy boundary -> store, in batches. Deletes a batch
 * from the spool only once storage has it (or refused parts of it for good, which go to the dead
 * letters). Retries outages with capped exponential backoff, honouring Retry-After.
 */
import { Backoff } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';
import type { PrivacyFilter } from '../core/privacy-filter.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import { RetryableStorageError, type ReadingStore, type StoredReading } from '../core/store.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { Logger } from '../telemetry/log.ts';
import type { Spool, SpooledReading } from './spool.ts';

/** What the forwarder needs of the spool (its thread passes its own connection with a depth it is told). */
export type SpoolReader = Pick<Spool, 'take' | 'remove' | 'depth'>;

/** A batch read from the spool and filtered, ready for storage. */
interface Prepared {
  rows: SpooledReading[];
  /** What storage gets: the aggregates first, then the filtered readings. */
  out: StoredReading[];
  /** For each record of `out`, its index in `rows` (-1: an aggregate). */
  origin: number[];
  groups: StoredReading[];
}

export interface ForwarderOptions {
  spool: SpoolReader;
  store: ReadingStore;
  privacy: PrivacyFilter;
  deadLetters: DeadLetterStore;
  metrics: PipelineMetrics;
  logger: Logger;
  clock: Clock;
  batchSize: number;
  flushIntervalMs: number;
  /** Longest wait between retries while storage is down, ms. Default 30 s. */
  maxBackoffMs?: number;
  /**
   * Called with every batch storage took (already filtered): the public MQTT publisher and the
   * upstream publisher hang here, so nothing is published that is not also stored.
   */
  onStored?: (records: StoredReading[]) => void;
  /** Called when storage becomes unreachable or reachable again (before the log line says so). */
  onReachable?: (reachable: boolean) => void;
}

export class Forwarder {
  readonly #o: ForwarderOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  readonly #backoff: Backoff;
  #reachable = true;

  constructor(o: ForwarderOptions) {
    this.#o = o;
    this.#backoff = new Backoff({ initialMs: 250, maxMs: o.maxBackoffMs ?? 30_000 });
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Was the last write to storage successful? */
  reachable(): boolean {
    return this.#reachable;
  }

  /** Asks for a forward soon (e.g. when a full batch is waiting). */
  poke(): void {
    // Arm once: re-arming on every message would push the forward back for as long as messages
    // keep arriving.
    if (!this.#stopped && !this.#running && this.#backoff.failures === 0 && !this.#poked) {
      this.#poked = true;
      this.#schedule(0);
    }
  }

  #poked = false;

  /**
   * Stops the timer, then keeps forwarding until the spool is empty, storage fails, or
   * `deadlineMs` passes. What is left stays in the spool for the next start.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    const until = Date.now() + deadlineMs;
    while (this.#o.spool.depth() > 0 && Date.now() < until) {
      const moved = await this.#forwardOnce().catch(() => 0);
      if (moved === 0) break;
    }
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#poked = false;
      this.#running = this.#loop().finally(() => {
        this.#running = undefined;
      });
    }, ms);
    this.#timer.unref?.();
  }

  async #loop(): Promise<void> {
    let next = this.#o.flushIntervalMs;
    try {
      // Drain while full batches are waiting; then wait for the interval. While storage takes one
      // batch, the next is read and filtered (one write in flight, so batches are stored and
      // removed in order; if the write fails, the batch read ahead is dropped and its rows stay
      // in the spool for the retry).
      let batch = this.#prepare(0, true);
      while (batch) {
        const writing = this.#store(batch);
        writing.catch(() => undefined); // awaited below; handled now so an early failure is not "unhandled"
        let next: Prepared | undefined;
        if (!this.#stopped && batch.rows.length >= this.#o.batchSize) {
          await new Promise<void>((resolve) => setImmediate(resolve)); // let the write go out first
          try {
            next = this.#prepare(batch.rows[batch.rows.length - 1]!.id, false);
          } catch (e) {
            await writing; // never leave a write behind: the next round starts after it
            throw e;
          }
        }
        await writing;
        batch = next;
      }
      this.#backoff.reset();
      this.#setReachable(true);
    } catch (e) {
      const retryAfter = e instanceof RetryableStorageError ? e.retryAfterMs : undefined;
      next = this.#backoff.next(retryAfter);
      if (this.#reachable) {
        this.#setReachable(false);
        this.#o.logger.warn({ err: e, retryInMs: next, spoolDepth: this.#o.spool.depth() }, 'storage unavailable; readings stay in the spool');
      }
    }
    if (!this.#stopped) this.#schedule(next);
  }

  #setReachable(ok: boolean): void {
    if (ok === this.#reachable) return;
    this.#reachable = ok;
    this.#o.onReachable?.(ok);
  }

  /** Forwards one batch; returns how many spool rows it settled. Throws RetryableStorageError. */
  async #forwardOnce(): Promise<number> {
    const batch = this.#prepare(0, true);
    return batch ? this.#store(batch) : 0;
  }

  /**
   * Reads the oldest batch after spool row `afterId` and passes it through the privacy boundary.
   * `drain`: with the aggregates whose window closed (they have no spool row; read ahead, a
   * batch leaves them to the next round, so that none is written twice).
   */
  #prepare(afterId: number, drain: boolean): Prepared | undefined {
    const { spool, privacy, deadLetters, metrics, clock } = this.#o;
    const rows = spool.take(this.#o.batchSize, afterId);
    // Aggregates whose window closed (household area totals): no spool row behind them.
    const groups = drain ? (privacy.drain?.(clock.now()) ?? []) : [];
    if (rows.length === 0 && groups.length === 0) return undefined;
    const out: StoredReading[] = [...groups];
    const origin: number[] = groups.map(() => -1);
    for (const [i, { reading }] of rows.entries()) {
      let filtered: StoredReading | undefined;
      try {
        filtered = privacy.apply(reading);
      } catch (e) {
        // Fail closed: nothing of a reading the filter cannot handle leaves the raw tier.
        metrics.readingsRejected.inc({ code: 'privacy_failed' });
        metrics.privacyActions.inc({ action: 'withheld' });
        deadLetters.add({ receivedAt: clock.now(), topic: `csm/v1/${reading.hub}/${reading.domain}/${reading.sensor}/data`, hub: reading.hub, sensor: reading.sensor, code: 'privacy_failed', reason: `privacy filter failed: ${(e as Error).message}`, payload: Buffer.from(JSON.stringify(reading)) });
        continue;
      }
      if (!filtered) {
        metrics.privacyActions.inc({ action: 'withheld' });
        continue;
      }
      out.push(filtered);
      origin.push(i);
    }
    return { rows, out, origin, groups };
  }

  /** Writes a prepared batch, then removes its rows from the spool; returns how many it settled. Throws RetryableStorageError. */
  async #store({ rows: batch, out, origin, groups }: Prepared): Promise<number> {
    const { spool, store, privacy, deadLetters, metrics, logger, clock } = this.#o;
    if (out.length > 0) {
      const t0 = performance.now();
      let outcome;
      try {
        outcome = await store.write(out);
      } catch (e) {
        metrics.storageWriteSeconds.observe({ store: store.kind, outcome: 'error' }, (performance.now() - t0) / 1000);
        metrics.storageErrors.inc({ store: store.kind, retryable: String(e instanceof RetryableStorageError) });
        if (e instanceof RetryableStorageError) throw e;
        // An unexpected error is treated as retryable: keeping data beats losing it.
        throw new RetryableStorageError(`storage write failed: ${(e as Error).message}`, undefined, { cause: e });
      }
      metrics.storageWriteSeconds.observe({ store: store.kind, outcome: 'ok' }, (performance.now() - t0) / 1000);
      metrics.readingsStored.inc({ store: store.kind }, outcome.written);
      const committed = clock.now();
      for (const r of out) metrics.endToEndSeconds.observe(Math.max(0, committed - r.ts) / 1000);
      for (const rej of outcome.rejected) {
        const src = batch[origin[rej.index] ?? -1];
        if (!src) {
          logger.error({ reason: rej.reason }, 'storage refused an aggregate record');
          continue;
        }
        const r = src.reading;
        metrics.readingsRejected.inc({ code: 'storage_rejected' });
        deadLetters.add({ receivedAt: clock.now(), topic: `csm/v1/${r.hub}/${r.domain}/${r.sensor}/data`, hub: r.hub, sensor: r.sensor, code: 'storage_rejected', reason: rej.reason, payload: Buffer.from(JSON.stringify(r)) });
        logger.warn({ hub: r.hub, sensor: r.sensor, reason: rej.reason }, 'storage refused a reading; kept in the dead letters');
      }
      if (groups.length) privacy.ack?.(groups);
      if (this.#o.onStored) {
        const refused = new Set(outcome.rejected.map((x) => x.index));
        try {
          this.#o.onStored(refused.size ? out.filter((_, i) => !refused.has(i)) : out);
        } catch (err) {
          logger.error({ err }, 'onStored hook failed');
        }
      }
    }
    if (batch.length) spool.remove(batch[0]!.id, batch[batch.length - 1]!.id, batch.length);
    metrics.spoolDepth.set(spool.depth());
    return batch.length;
  }
}
