/**
 * What the trend kinds (`rate`, `depletion`) share: windowed, one metric, a span of the window
 * plus the smoothing, and a least-squares fit over the (smoothed) window before the newest point.
 */
import { type Fit, leastSquares, type Point, type TrendSpec, trendWindow } from '../../core/trend.ts';
import type { Selector } from '../spec.ts';
import type { KindDefinition, SubjectView } from './types.ts';

type TrendRule = TrendSpec & { select: Selector };

/** The mode, metrics and span of a trend kind's definition. */
export function trendBasics<R extends TrendRule>(): Pick<KindDefinition<R>, 'mode' | 'metrics' | 'spanMs'> {
  return { mode: 'window', metrics: (r) => [r.select.metric as string], spanMs: (r) => r.window + r.smooth };
}

/** The fitted window of the rule's metric; undefined when there is too little to decide. */
export function fitTrend(rule: TrendRule, view: SubjectView): { metric: string; end: number; first: number; pts: Point[]; fit: Fit } | undefined {
  const metric = rule.select.metric as string;
  const w = trendWindow(view, metric, rule);
  if (!w) return undefined;
  const fit = leastSquares(w.pts);
  return fit ? { metric, ...w, fit } : undefined;
}
