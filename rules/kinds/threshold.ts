/**
 * `threshold`: a value above or below a limit, evaluated on each reading (stream).
 *
 * ```yaml
 * - id: battery-low
 *   kind: threshold
 *   select: { domain: energy, metric: battery_soc }
 *   below: 20          # fires under 20 %
 *   hysteresis: 5      # and resolves only at 25 % or more (no flapping around 20)
 *   for: 10m           # after 10 minutes (sensor time) under the limit; pending until then
 * ```
 * With `aggregate`, the value is `fn` over the newest values of the group's sensors.
 */
import { z } from 'zod';
import { humanDuration } from '../../core/duration.ts';
import { metricUnit, subjectPhrase, titleOf, withUnit } from '../message.ts';
import { checkDomain, requireMetric, ruleBaseShape } from '../spec.ts';
import type { KindDefinition } from './types.ts';

export const thresholdSchema = z
  .strictObject({
    ...ruleBaseShape,
    kind: z.literal('threshold'),
    /** Fires when the value is above this. */
    above: z.number().optional(),
    /** Fires when the value is below this. */
    below: z.number().optional(),
    /** Band (metric units) the value must move back past the limit before the alert resolves. */
    hysteresis: z.number().nonnegative('must be 0 or more').default(0),
  })
  .superRefine((r, ctx) => {
    requireMetric(r, ctx);
    checkDomain(r.select, r.select.metric, ctx, ['select', 'metric']);
    if ((r.above === undefined) === (r.below === undefined)) ctx.addIssue({ code: 'custom', path: ['above'], message: 'set exactly one of above or below' });
  });
export type ThresholdRule = z.output<typeof thresholdSchema>;

export const threshold: KindDefinition<ThresholdRule> = {
  kind: 'threshold',
  mode: 'stream',
  description: 'a value above or below a limit, with hysteresis and a for-duration (on each reading)',
  schema: thresholdSchema,
  metrics: (r) => [r.select.metric as string],
  spanMs: () => 0,
  evaluate(rule, view, ctx) {
    const metric = rule.select.metric as string;
    const cur = view.instant(metric);
    if (!cur) return undefined;
    const unit = metricUnit(metric);
    const isAbove = rule.above !== undefined;
    const limit = (isAbove ? rule.above : rule.below) as number;
    // Hysteresis: once active, the value must come back past the limit by the band to clear.
    const clear = isAbove ? limit - rule.hysteresis : limit + rule.hysteresis;
    const active = isAbove ? (ctx.active ? cur.value > clear : cur.value > limit) : ctx.active ? cur.value < clear : cur.value < limit;
    const who = subjectPhrase(titleOf(rule.title, metric), view, cur.n);
    const dir = isAbove ? 'above' : 'below';
    const forWords = rule.for > 0 ? ` for ${humanDuration(rule.for)} or more` : '';
    const summary = active
      ? `${who} is ${withUnit(cur.value, unit, limit)}, ${dir} the limit of ${withUnit(limit, unit)}${forWords}`
      : `${who} is ${withUnit(cur.value, unit, ctx.active ? clear : limit)}, back ${isAbove ? 'below' : 'above'} ${withUnit(ctx.active ? clear : limit, unit)}`;
    const facts: Record<string, number | string> = { value: cur.value, limit, direction: dir, metric };
    if (rule.hysteresis) facts.clearAt = clear;
    if (view.scope !== 'sensor') facts.sensors = cur.n;
    return { active, ts: cur.ts, value: cur.value, unit, facts, summary };
  },
};
