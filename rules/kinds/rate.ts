/**
 * `rate`: how fast a value changes, as the least-squares slope of the points in a window
 * (sensor time), in metric units per `per`. Evaluated on the rule's schedule.
 *
 * ```yaml
 * - id: soil-carbon-decline
 *   kind: rate
 *   select: { domain: soil, metric: soil_organic_carbon }
 *   window: 90d
 *   per: 1y
 *   below: -0.2        # fires when carbon falls faster than 0.2 %-points a year
 * ```
 */
import { z } from 'zod';
import { formatDuration, humanDuration } from '../../core/duration.ts';
import { fmt, metricUnit, subjectPhrase, titleOf, unitLabel } from '../message.ts';
import { checkTrend, positiveDurationSchema, ruleBaseShape, scheduleShape, trendShape } from '../spec.ts';
import { fitTrend, trendBasics } from './trend.ts';
import type { KindDefinition } from './types.ts';

export const rateSchema = z
  .strictObject({
    ...ruleBaseShape,
    ...scheduleShape,
    kind: z.literal('rate'),
    ...trendShape,
    /** Rate unit: change per this duration (default 1d). */
    per: positiveDurationSchema.default(86_400_000),
    above: z.number().optional(),
    below: z.number().optional(),
    /** Fewest points in the window for a verdict. */
    minPoints: z.number().int().min(2).default(3),
    /** Hysteresis on the rate, in metric units per `per`. */
    hysteresis: z.number().nonnegative().default(0),
  })
  .superRefine((r, ctx) => {
    checkTrend(r, ctx);
    if ((r.above === undefined) === (r.below === undefined)) ctx.addIssue({ code: 'custom', path: ['above'], message: 'set exactly one of above or below' });
  });
export type RateRule = z.output<typeof rateSchema>;

export const rate: KindDefinition<RateRule> = {
  kind: 'rate',
  ...trendBasics(),
  description: 'rate of change (least-squares slope) over a window, above or below a limit',
  schema: rateSchema,
  evaluate(rule, view, ctx) {
    const t = fitTrend(rule, view);
    if (!t) return undefined;
    const { metric, end, pts, fit } = t;
    const r = fit.slope * rule.per;
    const isAbove = rule.above !== undefined;
    const limit = (isAbove ? rule.above : rule.below) as number;
    const clear = isAbove ? limit - rule.hysteresis : limit + rule.hysteresis;
    const active = isAbove ? r > (ctx.active ? clear : limit) : r < (ctx.active ? clear : limit);
    const unit = `${unitLabel(metricUnit(metric))}/${perWord(rule.per)}`;
    const who = subjectPhrase(titleOf(rule.title, metric), view);
    const trend = r < 0 ? `falling by ${fmt(-r)}` : `rising by ${fmt(r)}`;
    const over = `over the last ${humanDuration(end - (pts[0]?.ts ?? end))}`;
    const limitWords =
      !isAbove && limit <= 0
        ? `the allowed fall of ${fmt(-limit)} ${unit}`
        : isAbove && limit >= 0
          ? `the allowed rise of ${fmt(limit)} ${unit}`
          : `the limit (a rate ${isAbove ? 'above' : 'below'} ${fmt(limit)} ${unit})`;
    const summary = active
      ? `${who} is ${trend} ${unit} ${over}, beyond ${limitWords}`
      : `${who} is ${trend} ${unit} ${over}, within ${limitWords}`;
    return {
      active,
      ts: end,
      value: r,
      unit,
      facts: { rate: r, limit, per: formatDuration(rule.per), points: pts.length, window: formatDuration(rule.window), ...(rule.smooth ? { smooth: formatDuration(rule.smooth) } : {}), metric },
      summary,
    };
  },
};

/** `1d` -> `day`, `1y` -> `year`, `7d` -> `7d`. */
export function perWord(ms: number): string {
  const words: Record<number, string> = { 1000: 's', 60_000: 'min', 3_600_000: 'h', 86_400_000: 'day', [7 * 86_400_000]: 'week', [365 * 86_400_000]: 'year' };
  return words[ms] ?? formatDuration(ms);
}
