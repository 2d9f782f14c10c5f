/**
 * Trend math shared by the rules engine and the console: a least-squares fit, a trailing moving
 * average and the trend window a rule fits over. Pure functions, no I/O: the console shows the same
 * fit the alert quotes because both run this code.
 */

/** One point of a series: sensor time (epoch ms) and value. */
export interface Point {
  ts: number;
  value: number;
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
