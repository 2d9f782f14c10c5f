/**
 * `balance`: extraction against regeneration over a window (sensor time). Each side sums (or
 * averages) its metrics over the window for every sensor it selects, scales the result into a
 * common unit, and adds the sensors up. Fires when extraction exceeds regeneration by more than
 * `exceedBy` percent. One alert per hub (or per site with `aggregate: { by: site }`).
 *
 * ```yaml
 * - id: withdrawals-above-recharge
 *   kind: balance
 *   select: { domain: water }
 *   window: 7d
 *   extraction: { metric: withdrawal, over: sum, label: withdrawals }
 *   regeneration: { metric: rainfall, over: sum, scale: 60, label: recharge estimated from rainfall }
 *   unit: m3
 *   exceedBy: 0
 * ```
 * `scale` converts a side into the common unit (above: 1 mm of rain recharges about 60 m³).
 */
import { z } from 'zod';
import { metricDef } from '../../core/catalogue.ts';
import { formatDuration, humanDuration } from '../../core/duration.ts';
import { fmt, metricUnit, titleOf, unitLabel, wherePhrase } from '../message.ts';
import { durationSchema, idListSchema, metricSchema, positiveDurationSchema, ruleBaseShape, scheduleShape } from '../spec.ts';
import type { KindDefinition, Member } from './types.ts';

export const sideSchema = z
  .strictObject({
    metric: metricSchema.optional(),
    metrics: z.array(metricSchema).min(1).optional(),
    /** Narrow this side to some sensors or sites (besides the rule's `select`). */
    sensor: idListSchema.optional(),
    site: idListSchema.optional(),
    /** Per sensor over the window: `sum` for quantities per interval (m³, mm), `mean` for rates (W). */
    over: z.enum(['sum', 'mean'], { error: 'must be sum or mean' }).default('sum'),
    /** Multiplies the side into the rule's common unit. */
    scale: z.number().positive('must be more than 0').default(1),
    /** Words for the side in alert messages. */
    label: z.string().min(1).max(80).optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.metric === undefined) === (s.metrics === undefined)) ctx.addIssue({ code: 'custom', path: ['metric'], message: 'set exactly one of metric or metrics' });
  })
  .transform((s) => ({ ...s, list: s.metrics ?? [s.metric as string] }));
export type BalanceSide = z.output<typeof sideSchema>;

export const balanceSchema = z
  .strictObject({
    ...ruleBaseShape,
    ...scheduleShape,
    kind: z.literal('balance'),
    window: positiveDurationSchema,
    extraction: sideSchema,
    regeneration: sideSchema,
    /** Both sides' readings must reach back at least this far into the window (default: half of it). */
    minSpan: durationSchema.optional(),
    /** Fire when extraction > regeneration × (1 + exceedBy/100). */
    exceedBy: z.number().min(0, 'must be 0 or more (percent)').default(0),
    /** Once firing, resolve only when the excess falls below exceedBy − hysteresis (percent points). */
    hysteresis: z.number().nonnegative().default(0),
    /** The common unit after scaling, for messages (default: the first extraction metric's unit). */
    unit: z.string().max(32).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.select.metric) ctx.addIssue({ code: 'custom', path: ['select', 'metric'], message: 'a balance rule names its metrics under extraction and regeneration, not in select' });
    for (const side of ['extraction', 'regeneration'] as const) {
      for (const m of r[side].list) {
        const d = metricDef(m);
        if (d && r.select.domain && !r.select.domain.includes(d.domain)) ctx.addIssue({ code: 'custom', path: [side, 'metric'], message: `metric "${m}" belongs to domain ${d.domain}, not ${r.select.domain.join(' or ')}` });
      }
    }
    if (r.aggregate && r.aggregate.fn !== 'mean' && r.aggregate.fn !== 'sum') ctx.addIssue({ code: 'custom', path: ['aggregate', 'fn'], message: 'a balance adds its sensors up; only `by` applies' });
  });
export type BalanceRule = z.output<typeof balanceSchema>;

function inList(list: '*' | string[] | undefined, v: string): boolean {
  return list === undefined || list === '*' || list.includes(v);
}

/** Sums one side over its sensors and metrics; undefined when it has no point at all. */
function total(side: BalanceSide, view: Parameters<KindDefinition<BalanceRule>['evaluate']>[1], from: number, to: number): { value: number; sensors: number; first: number } | undefined {
  const filter = (m: Member): boolean => inList(side.sensor, m.sensor) && inList(side.site, m.site);
  let value = 0;
  let any = false;
  const sensors = new Set<string>();
  let first = Number.POSITIVE_INFINITY;
  for (const metric of side.list) {
    for (const { member, points } of view.memberPoints(metric, from, to, filter)) {
      if (!points.length) continue;
      any = true;
      sensors.add(member.sensor);
      first = Math.min(first, (points[0] as { ts: number }).ts);
      let s = 0;
      for (const p of points) s += p.value;
      value += (side.over === 'mean' ? s / points.length : s) * side.scale;
    }
  }
  return any ? { value, sensors: sensors.size, first } : undefined;
}

export const balance: KindDefinition<BalanceRule> = {
  kind: 'balance',
  mode: 'window',
  description: 'extraction against regeneration over a window (e.g. withdrawals above recharge by more than X%)',
  schema: balanceSchema,
  metrics: (r) => [...new Set([...r.extraction.list, ...r.regeneration.list])],
  spanMs: (r) => r.window,
  evaluate(rule, view, ctx) {
    const end = view.latestTs(balance.metrics(rule));
    if (end === undefined) return undefined;
    const from = end - rule.window;
    const e = total(rule.extraction, view, from, end);
    const g = total(rule.regeneration, view, from, end);
    if (!e || !g) return undefined;
    const minSpan = rule.minSpan ?? rule.window / 2;
    if (end - e.first < minSpan || end - g.first < minSpan) return undefined;
    const excess = g.value > 0 ? ((e.value - g.value) / g.value) * 100 : e.value > 0 ? Number.POSITIVE_INFINITY : 0;
    const limit = ctx.active ? rule.exceedBy - rule.hysteresis : rule.exceedBy;
    const active = e.value > 0 && excess > limit;
    const first = rule.extraction.list[0] as string;
    const unit = unitLabel(rule.unit ?? metricUnit(first));
    const domain = metricDef(first)?.domain ?? 'resource';
    const title = rule.title ?? `${domain.charAt(0).toUpperCase()}${domain.slice(1)} balance`;
    const eLabel = rule.extraction.label ?? titleOf(undefined, first).toLowerCase();
    const gLabel = rule.regeneration.label ?? titleOf(undefined, rule.regeneration.list[0]).toLowerCase();
    const where = wherePhrase(view.scope === 'sensor' ? 'hub' : view.scope, view.hub, view.subject);
    const amounts = `${eLabel} ${fmt(e.value)} ${unit} vs ${gLabel} ${fmt(g.value)} ${unit}`;
    const period = `over the last ${humanDuration(rule.window)}`;
    const pct = Number.isFinite(excess) ? `${fmt(Math.abs(excess))}%` : 'an unbounded margin (no regeneration at all)';
    const summary = active
      ? `${title} at ${where}: extraction exceeded regeneration by ${pct} ${period} (${amounts}; limit ${fmt(rule.exceedBy)}%)`
      : excess > 0
        ? `${title} at ${where}: extraction exceeded regeneration by ${pct} ${period}, within the limit of ${fmt(rule.exceedBy)}% (${amounts})`
        : `${title} at ${where}: extraction stayed ${Number.isFinite(excess) ? `${fmt(-excess)}%` : ''} below regeneration ${period} (${amounts})`;
    return {
      active,
      ts: end,
      value: excess,
      unit: '%',
      facts: { extraction: e.value, regeneration: g.value, excessPercent: Number.isFinite(excess) ? excess : 'unbounded', limitPercent: rule.exceedBy, unit, window: formatDuration(rule.window), extractionSensors: e.sensors, regenerationSensors: g.sensors },
      summary,
    };
  },
};
