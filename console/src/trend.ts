/**
 * Trends as the rules compute them: the same code (core/trend.ts, bundled into the page), the
 * same window, smoothing and minimum evidence as the rule that watches the stock, so the page's
 * "falling 3.1 cm a day" is the rate the depletion alert quotes. A stock no trend rule watches
 * gets the fit of the last 3 days of 24-hour means, and says so.
 */
import { humanDuration, parseDuration } from '../../core/duration.ts';
import { type Point, leastSquares, trendWindow } from '../../core/trend.ts';
import { fmt, withUnit } from './format.ts';
import type { Alert, Threshold, TrendSpec } from './types.ts';

const DAY = 86_400_000;

/** The fit of a stock no trend rule watches: 3 days of 24-hour means, two days of them at least. */
export const DEFAULT_TREND: TrendSpec = { windowMs: 3 * DAY, smoothMs: DAY, minPoints: 12, minSpanMs: 2 * DAY };

export interface Trend {
  direction: 'rising' | 'falling' | 'steady';
  /** The fitted level at the newest point (of the smoothed series when smoothed), as the rule's "level now". */
  level: number;
  /** Whether `level` is of a moving average (e.g. 24-hour means). */
  smoothed: boolean;
  perDay: number;
  /** e.g. `falling 3.1 cm a day`. */
  words: string;
  /** What it was fitted on, e.g. `the last 3 days of 24-hour means`. */
  over: string;
  /** `alert`: the numbers of the rule's own evaluation (the alert); `series`: fitted here, the same way. */
  source: 'alert' | 'series';
  /** Depletion only, from the rule: days until the safe minimum at this rate, and that date. */
  daysToFloor?: number;
  projectedDate?: string;
}

/** An amount of change in the unit people use for it (cm or mm for small changes in metres). */
function amountOf(v: number, unit: string): string {
  const a = Math.abs(v);
  if (unit === 'm' && a < 0.01) return `${fmt(a * 1000, 1)} mm`;
  if (unit === 'm' && a < 1) return `${fmt(a * 100, 1)} cm`;
  if (unit === '%') return `${fmt(a)} points`;
  return withUnit(a, unit);
}

/** `falling 3.1 cm a day`, `rising 0.6 points a year`, or `steady` when the rate rounds to nothing. */
export function rateWords(perDay: number, unit: string, per: 'day' | 'year' = 'day'): { direction: Trend['direction']; words: string } {
  const rate = per === 'year' ? perDay * 365 : perDay;
  const amount = amountOf(rate, unit);
  if (perDay === 0 || /^0( |$)/.test(amount)) return { direction: 'steady', words: 'steady' };
  const direction = perDay > 0 ? 'rising' : 'falling';
  return { direction, words: `${direction} ${amount} a ${per}` };
}

/** `the last 3 days of 24-hour means`. */
export function overWords(windowMs: number, smoothMs: number): string {
  return `the last ${humanDuration(windowMs)}${smoothMs > 0 ? ` of ${humanDuration(smoothMs).replace(/^1 (\w+?)s?$/, '$1').replace(/ (\w+?)s?$/, '-$1').replace(/^day$/, '24-hour').replace(/^hour$/, '1-hour')} means` : ''}`;
}

/** The trend spec of the rule watching a stock (a depletion floor or a rate limit), if any. */
export function trendRule(limits: readonly Threshold[]): Threshold | undefined {
  return limits.find((l) => (l.kind === 'floor' || l.kind === 'rate') && l.trend);
}

/**
 * The trend of a series (sorted by time) as a rule with `spec` fits it: the window ending at the
 * newest point, a trailing moving average first, least squares; undefined without the rule's
 * minimum evidence (too few points, too short a span).
 */
export function fitTrend(ts: readonly number[], values: readonly number[], unit: string, spec: TrendSpec = DEFAULT_TREND, per: 'day' | 'year' = 'day'): Trend | undefined {
  const pts: Point[] = [];
  for (let i = 0; i < Math.min(ts.length, values.length); i++) {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v)) pts.push({ ts: ts[i] as number, value: v });
  }
  const view = {
    latestTs: (): number | undefined => pts[pts.length - 1]?.ts,
    points: (_metric: string, from: number, to: number): Point[] => pts.filter((p) => p.ts >= from && p.ts <= to),
  };
  const w = trendWindow(view, '', { window: spec.windowMs, smooth: spec.smoothMs, minPoints: spec.minPoints, minSpan: spec.minSpanMs });
  if (!w) return undefined;
  const fit = leastSquares(w.pts);
  if (!fit) return undefined;
  const perDay = fit.slope * DAY;
  return { ...rateWords(perDay, unit, per), level: fit.intercept + fit.slope * (w.end - fit.origin), smoothed: spec.smoothMs > 0, perDay, over: overWords(spec.windowMs, spec.smoothMs), source: 'series' };
}

/**
 * The trend a rule's own evaluation quotes (the alert record of its subject, in any state, even
 * inactive): depletion's `level` and `ratePerDay`, rate's `rate` per `per`. Undefined when the
 * alert carries no such numbers.
 */
export function alertTrend(a: Alert | undefined, unit: string, per: 'day' | 'year' = 'day'): Trend | undefined {
  if (!a) return undefined;
  const f = a.facts;
  const window = typeof f.window === 'string' ? (parseDuration(f.window) ?? 0) : 0;
  const smooth = typeof f.smooth === 'string' ? (parseDuration(f.smooth) ?? 0) : 0;
  if (a.kind === 'depletion' && typeof f.level === 'number' && typeof f.ratePerDay === 'number') {
    const t: Trend = { ...rateWords(f.ratePerDay, unit, per), level: f.level, smoothed: smooth > 0, perDay: f.ratePerDay, over: overWords(window, smooth), source: 'alert' };
    if (typeof f.daysToFloor === 'number') t.daysToFloor = f.daysToFloor;
    if (typeof f.projectedDate === 'string') t.projectedDate = f.projectedDate;
    return t;
  }
  if (a.kind === 'rate' && typeof f.rate === 'number' && typeof f.per === 'string') {
    const perMs = parseDuration(f.per) ?? DAY;
    const perDay = f.rate / (perMs / DAY);
    return { ...rateWords(perDay, unit, per), level: Number.NaN, smoothed: smooth > 0, perDay, over: overWords(window, smooth), source: 'alert' };
  }
  return undefined;
}
