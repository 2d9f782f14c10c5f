/**
 * In-memory windows. One `Series` per hub, sensor and metric holds raw points sorted by the
 * sensor's timestamp, bounded by a time span (the longest window of the rules that read it) and
 * by a point cap. Late and out-of-order points are inserted in order; a point with a timestamp
 * already present replaces it (a redelivered reading counts once, as in storage); a point older
 * than the span before the newest one is refused.
 */

import type { Point } from '../core/trend.ts';

export type { Point } from '../core/trend.ts';

/** Outcome of `Series.add`. */
export type AddOutcome = 'appended' | 'inserted' | 'replaced' | 'too_old';

export class Series {
  #ts: number[] = [];
  #vs: number[] = [];
  /** Index of the first live point (the prefix before it is evicted, compacted lazily). */
  #head = 0;
  #span: number;
  readonly #cap: number;
  /** Points dropped because the cap was reached. */
  capped = 0;

  /**
   * @param spanMs how far back from the newest point to keep, ms of sensor time
   * @param cap most points kept (default 50,000); the oldest go first
   */
  constructor(spanMs: number, cap = 50_000) {
    this.#span = spanMs;
    this.#cap = cap;
  }

  get spanMs(): number {
    return this.#span;
  }

  /** Widens the span (never narrows it: another rule may still need the history). */
  ensureSpan(ms: number): void {
    if (ms > this.#span) this.#span = ms;
  }

  get size(): number {
    return this.#ts.length - this.#head;
  }

  /** Newest sensor timestamp, or undefined when empty. */
  get latestTs(): number | undefined {
    return this.size ? this.#ts[this.#ts.length - 1] : undefined;
  }

  get latest(): Point | undefined {
    const n = this.#ts.length;
    return this.size ? { ts: this.#ts[n - 1] as number, value: this.#vs[n - 1] as number } : undefined;
  }

  /** Adds a point in timestamp order. */
  add(ts: number, value: number): AddOutcome {
    const n = this.#ts.length;
    const last = this.size ? (this.#ts[n - 1] as number) : undefined;
    if (last === undefined || ts > last) {
      this.#ts.push(ts);
      this.#vs.push(value);
      this.#evict(ts);
      return 'appended';
    }
    if (ts < last - this.#span) return 'too_old';
    const i = this.#lowerBound(ts);
    if (i < n && this.#ts[i] === ts) {
      this.#vs[i] = value;
      return 'replaced';
    }
    this.#ts.splice(i, 0, ts);
    this.#vs.splice(i, 0, value);
    this.#evict(last);
    return 'inserted';
  }

  /** Points with `from <= ts <= to`, oldest first. */
  range(from: number, to: number): Point[] {
    const out: Point[] = [];
    for (let i = this.#lowerBound(from); i < this.#ts.length; i++) {
      const ts = this.#ts[i] as number;
      if (ts > to) break;
      out.push({ ts, value: this.#vs[i] as number });
    }
    return out;
  }

  /** Drops points older than the span before `newest`, and the oldest beyond the cap. */
  #evict(newest: number): void {
    const limit = newest - this.#span;
    while (this.#head < this.#ts.length && (this.#ts[this.#head] as number) < limit) this.#head++;
    while (this.size > this.#cap) {
      this.#head++;
      this.capped++;
    }
    // Compact when the dead prefix is large, so memory stays bounded and splice stays cheap.
    if (this.#head > 1024 && this.#head * 2 > this.#ts.length) {
      this.#ts = this.#ts.slice(this.#head);
      this.#vs = this.#vs.slice(this.#head);
      this.#head = 0;
    }
  }

  #lowerBound(ts: number): number {
    let lo = this.#head;
    let hi = this.#ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#ts[mid] as number) < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
