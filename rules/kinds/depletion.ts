/**
 * `depletion`: a forecast. Fits a least-squares line to a stock (e.g. aquifer head) over a window
 * of sensor time, projects it forward and fires when the projected time to reach `floor` (the
 * safe minimum) is within `horizon`, or the stock is already below it. The alert carries the
 * projected date and the rate. Evaluated on the rule's schedule.
 *
 * ```yaml
 * - id: aquifer-depletion
 *   kind: depletion
 *   select: { domain: water, metric: groundwater_level }
 *   window: 3d        # trend of the last 3 days
 *   floor: 35         # m above datum
 *   horizon: 30d      # warn when the floor is less than 30 days away at the current rate
 * ```
 */
import { z } from 'zod';
import { formatDuration, humanDuration } from '../../core/duration.ts';
import { fmt, metricUnit, subjectPhrase, titleOf, unitLabel, utcDate, withUnit } from '../message.ts';
import { checkTrend, durationSchema, positiveDurationSchema, ruleBaseShape, scheduleShape, trendShape } from '../spec.ts';
import { fitTrend, trendBasics } from './trend.ts';
import type { KindDefinition } from './types.ts';

const DAY = 86_400_000;

export const depletionSchema = z
  .strictObject({
    ...ruleBaseShape,
    ...scheduleShape,
    kind: z.literal('depletion'),
    ...trendShape,
    /** The safe minimum of the stock, in the metric's unit. */
    floor: z.number({ error: 'must be a number (the safe minimum, in the metric unit)' }),
    /** Fire when the floor is projected to be reached within this. */
    horizon: positiveDurationSchema,
    /** Fewest points for a forecast. */
    minPoints: z.number().int().min(2).default(5),
    /**
     * Fit quality needed to raise the alert: the share of the (smoothed) level's variance the
     * straight line explains, 0–1 (default 0: any fit). A weaker fit neither raises the alert nor
     * clears a firing one: the alert keeps its state until the evidence is clear either way.
     */
    minR2: z.number().min(0).max(1).default(0),
    /** Once firing, resolve only when the projection is beyond horizon + this. */
    hysteresis: durationSchema.default(0),
  })
  .superRefine(checkTrend);
export type DepletionRule = z.output<typeof depletionSchema>;

export const depletion: KindDefinition<DepletionRule> = {
  kind: 'depletion',
  ...trendBasics(),
  description: 'forecast: the trend of a stock reaches its floor within a horizon',
  schema: depletionSchema,
  evaluate(rule, view, ctx) {
    const t = fitTrend(rule, view);
    if (!t) return undefined;
    const { metric, end, first, pts, fit } = t;
    const unit = metricUnit(metric);
    const perDay = fit.slope * DAY;
    // The fitted level at the newest point: less noisy than the last reading alone.
    const level = fit.intercept + fit.slope * (end - fit.origin);
    const who = subjectPhrase(titleOf(rule.title, metric), view);
    const floorWords = `its safe minimum of ${withUnit(rule.floor, unit)}`;
    const rateWords = `${perDay < 0 ? '' : '+'}${fmt(perDay)} ${unitLabel(unit)}/day`;
    const trendWords = `trend of the last ${humanDuration(end - first)}${rule.smooth ? ` of ${humanDuration(rule.smooth).replace(/ (\w+?)s?$/, '-$1')} means` : `, ${pts.length} readings`}`;
    const facts: Record<string, number | string> = {
      level,
      floor: rule.floor,
      ratePerDay: perDay,
      horizonDays: rule.horizon / DAY,
      points: pts.length,
      window: formatDuration(rule.window),
      metric,
    };
    if (rule.smooth) facts.smooth = formatDuration(rule.smooth);
    const r2 = Number.isNaN(fit.r2) ? 1 : fit.r2;
    facts.r2 = Math.round(r2 * 1000) / 1000;
    if (level <= rule.floor) {
      facts.daysToFloor = 0;
      return {
        active: true,
        ts: end,
        value: 0,
        unit: 'days',
        facts,
        summary: `${who} is at ${withUnit(level, unit, rule.floor)}, already below ${floorWords} (rate ${rateWords}; ${trendWords})`,
      };
    }
    if (perDay >= 0) {
      return { active: false, ts: end, value: Number.POSITIVE_INFINITY, unit: 'days', facts, summary: `${who} is at ${withUnit(level, unit)} and not falling (rate ${rateWords}; ${trendWords})` };
    }
    const days = (level - rule.floor) / -perDay;
    const at = end + days * DAY;
    facts.daysToFloor = days;
    facts.projectedDate = utcDate(at);
    const limit = (rule.horizon + (ctx.active ? rule.hysteresis : 0)) / DAY;
    if (days <= limit && r2 < rule.minR2) {
      // Too weak a trend to warn on; and not a reason to call off a firing forecast either.
      if (ctx.active) return undefined;
      return { active: false, ts: end, value: days, unit: 'days', facts, summary: `${who} is at ${withUnit(level, unit)}; the trend of ${rateWords} is too irregular to forecast (fit R² ${fmt(r2)} < ${fmt(rule.minR2)}; ${trendWords})` };
    }
    const active = days <= limit;
    const summary = active
      ? `${who} is projected to reach ${floorWords} in ${fmt(days)} days (on ${utcDate(at)}) at the current rate of ${rateWords} (level now ${withUnit(level, unit)}; ${trendWords})`
      : `${who} is projected to reach ${floorWords} in ${fmt(days)} days (on ${utcDate(at)}), beyond the ${humanDuration(rule.horizon)} horizon, at ${rateWords} (level now ${withUnit(level, unit)})`;
    return { active, ts: end, value: days, unit: 'days', facts, summary };
  },
};
