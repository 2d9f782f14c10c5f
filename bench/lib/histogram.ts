/**
 * A latency histogram with 1 ms buckets: every value is kept (to the millisecond), so percentiles
 * are exact at that resolution, in constant memory whatever the count.
 * @module
 */

/** Summary of recorded latencies, ms. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class MsHistogram {
  readonly #buckets: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** @param maxMs - values at or above this land in the last bucket (default 10 min) */
  readonly maxMs: number;

  constructor(maxMs = 600_000) {
    this.maxMs = maxMs;
    this.#buckets = new Float64Array(maxMs + 1);
  }

  /** Records `n` values of `ms` (rounded; negative values, from clock steps, count as 0). */
  record(ms: number, n = 1): void {
    const v = Math.max(0, Math.round(ms));
    this.#buckets[Math.min(v, this.maxMs)]! += n;
    this.#count += n;
    this.#sum += v * n;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  get count(): number {
    return this.#count;
  }

  /** The smallest value v such that at least q of the recorded values are <= v (nearest rank). */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank) return i;
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    if (this.#count === 0) return { count: 0, min: NaN, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
    return {
      count: this.#count,
      min: this.#min,
      mean: Math.round((this.#sum / this.#count) * 10) / 10,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.#max,
    };
  }

  reset(): void {
    this.#buckets.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }
}
