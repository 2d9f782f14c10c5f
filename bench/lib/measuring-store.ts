/**
 * A `ReadingStore` decorator that measures publish-to-stored latency exactly: when the inner
 * store's `write` resolves, every reading it stored is recorded as `now - reading.ts` (the
 * sensor's timestamp, set by the load generator to `Date.now()` at publish; all processes share
 * the machine's clock). It also counts stored readings and times each batch write.
 * @module
 */
import type { ReadingStore, StoredReading, WriteOutcome } from '../../core/store.ts';
import { MsHistogram, type LatencySummary } from './histogram.ts';

/** Counters of a {@link MeasuringStore}. */
export interface StoreCounters {
  /** Readings the inner store reported as written. */
  stored: number;
  /** Readings it refused for good. */
  refused: number;
  /** Batch writes that resolved. */
  batches: number;
  /** Batch writes that threw (retryable outage). */
  failedBatches: number;
  /** Time spent inside the inner `write`, ms. */
  writeMs: number;
  /** Longest single batch write, ms. */
  maxWriteMs: number;
}

/**
 * Wraps a store. `store` is what ingest gets: the inner store with `write` measured and every
 * other member (start, stop, reads, whatever the interface grows) passed through unchanged.
 */
export class MeasuringStore {
  readonly store: ReadingStore;
  readonly #inner: ReadingStore;
  readonly #now: () => number;
  /** Publish-to-stored latency since the last `takeLatency()`. */
  readonly #latency = new MsHistogram();
  /** Batch write durations since the last `takeLatency()`. */
  readonly #writes = new MsHistogram(60_000);
  readonly counters: StoreCounters = { stored: 0, refused: 0, batches: 0, failedBatches: 0, writeMs: 0, maxWriteMs: 0 };

  constructor(inner: ReadingStore, now: () => number = Date.now) {
    this.#inner = inner;
    this.#now = now;
    const write = (readings: StoredReading[]): Promise<WriteOutcome> => this.#write(readings);
    this.store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'write') return write;
        const v: unknown = Reflect.get(target, prop, target);
        // Bound to the inner store: its methods may use #private fields.
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  async #write(readings: StoredReading[]): Promise<WriteOutcome> {
    const t0 = performance.now();
    let out: WriteOutcome;
    try {
      out = await this.#inner.write(readings);
    } catch (e) {
      this.counters.failedBatches++;
      throw e;
    }
    const refused = new Set(out.rejected.map((r) => r.index));
    this.recordBatch({ written: out.written, refused: refused.size, writeMs: performance.now() - t0, at: this.#now(), ts: readings.filter((_, i) => !refused.has(i)).map((r) => r.ts) });
    return out;
  }

  /**
   * Records one batch a store took elsewhere (the forwarder's thread reports each one): its write
   * time and, for every reading written, `at - ts`.
   */
  recordBatch(b: { written: number; refused: number; writeMs: number; at: number; ts: ArrayLike<number> }): void {
    this.counters.batches++;
    this.counters.writeMs += b.writeMs;
    if (b.writeMs > this.counters.maxWriteMs) this.counters.maxWriteMs = b.writeMs;
    this.#writes.record(b.writeMs);
    for (let i = 0; i < b.ts.length; i++) this.#latency.record(b.at - b.ts[i]!);
    this.counters.stored += b.written;
    this.counters.refused += b.refused;
  }

  /** Latency (and batch write time) summaries since the last call; resets them. */
  takeLatency(): { publishToStored: LatencySummary; batchWrite: LatencySummary } {
    const out = { publishToStored: this.#latency.summary(), batchWrite: this.#writes.summary() };
    this.#latency.reset();
    this.#writes.reset();
    return out;
  }
}
