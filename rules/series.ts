/**
 * In-memory windows. One `Series` per hub, sensor and metric holds raw points sorted by the
 * sensor's timestamp, bounded by a time span (the longest window of the rules that read it) and
 * by a point cap. Late and out-of-order points are inserted in order; a point with a timestamp
 * already present replaces it (a redelivered reading counts once, as in storage); a point older
 * than the span before the newest one is refused.
 */

/** One point of a series: sensor time (epoch ms) and value. */
export interface Point {
  ts: number;
  value: number;
}

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

/** Least-squares line through points: value = intercept + slope * (ts - origin). */
export interface Fit {
  /** Value units per millisecond. */
  slope: number;
  /** Fitted value at `origin`. */
  intercept: number;
  origin: number;
  n: number;
  /** Coefficient of determination (1 for a perfect line; NaN when the values are constant). */
  r2: number;
}

/**
 * Ordinary least squares on (ts, value). Times are taken relative to the last point so the sums
 * stay well conditioned with epoch milliseconds. Undefined for fewer than 2 points or one instant.
 */
export function leastSquares(points: readonly Point[]): Fit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const origin = (points[n - 1] as Point).ts;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.ts - origin;
    sy += p.value;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    const dx = p.ts - origin - mx;
    const dy = p.value - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, origin, n, r2: syy === 0 ? Number.NaN : (sxy * sxy) / (sxx * syy) };
}

/**
 * Trailing moving average over `windowMs`: one point per input point that has a full window of
 * history behind it (`ts - windowMs >= first ts`), valued at the mean of the points in
 * `(ts - windowMs, ts]`. Set the window to a daily cycle (1d) to remove pumping or solar swings
 * before fitting a trend. Points must be sorted by time.
 */
export function movingAverage(points: readonly Point[], windowMs: number): Point[] {
  const out: Point[] = [];
  const first = points[0];
  if (!first || windowMs <= 0) return windowMs <= 0 ? [...points] : out;
  let lo = 0;
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as Point;
    sum += p.value;
    while ((points[lo] as Point).ts <= p.ts - windowMs) sum -= (points[lo++] as Point).value;
    if (p.ts - windowMs >= first.ts) out.push({ ts: p.ts, value: sum / (i - lo + 1) });
  }
  return out;
}

/** What a trend needs of a rule: its window, smoothing and minimum evidence (ms, points). */
export interface TrendSpec {
  window: number;
  smooth: number;
  minPoints: number;
  minSpan?: number | undefined;
}

/**
 * The points a trend of `metric` is fitted on: the window ending at the subject's latest reading,
 * smoothed by a moving average of `smooth` ms first. Undefined when there are fewer than
 * `minPoints` or they span less than `minSpan` (default a quarter of the window): no verdict.
 */
export function trendWindow(view: { latestTs(metrics: readonly string[]): number | undefined; points(metric: string, from: number, to: number): Point[] }, metric: string, spec: TrendSpec): { end: number; first: number; pts: Point[] } | undefined {
  const end = view.latestTs([metric]);
  if (end === undefined) return undefined;
  const raw = view.points(metric, end - spec.window - spec.smooth, end);
  const pts = spec.smooth ? movingAverage(raw, spec.smooth).filter((p) => p.ts >= end - spec.window) : raw;
  if (pts.length < spec.minPoints) return undefined;
  const first = pts[0]?.ts ?? end;
  if (end - first < (spec.minSpan ?? spec.window / 4)) return undefined;
  return { end, first, pts };
}
