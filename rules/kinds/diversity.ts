/**
 * `diversity`: species richness (number of species detected) or the Shannon index
 * (H = −Σ pᵢ ln pᵢ over the share of individuals of each species) in a recent window, against the
 * same index in a baseline window; fires when it falls more than `dropBy` percent below the
 * baseline. Reads biodiversity readings that carry `species` and `metrics.count`.
 *
 * ```yaml
 * - id: bird-richness-decline
 *   kind: diversity
 *   select: { domain: biodiversity }
 *   aggregate: { by: site }        # all detectors of a site together
 *   index: richness
 *   window: 7d
 *   baseline: { window: 7d, offset: 7d }   # the week before (the default)
 *   dropBy: 20
 * ```
 */
import { z } from 'zod';
import { formatDuration, humanDuration } from '../../core/duration.ts';
import { fmt, wherePhrase } from '../message.ts';
import { durationSchema, positiveDurationSchema, ruleBaseShape, scheduleShape } from '../spec.ts';
import type { KindDefinition } from './types.ts';

export const diversitySchema = z
  .strictObject({
    ...ruleBaseShape,
    ...scheduleShape,
    kind: z.literal('diversity'),
    index: z.enum(['richness', 'shannon'], { error: 'must be richness or shannon' }).default('richness'),
    window: positiveDurationSchema,
    /** Baseline window (default: same length) ending `offset` before the end of the current one (default: window). */
    baseline: z.strictObject({ window: positiveDurationSchema.optional(), offset: durationSchema.optional() }).prefault({}),
    /** Percent below the baseline that fires. */
    dropBy: z.number({ error: 'must be a percentage' }).gt(0, 'must be more than 0 (percent)').max(100, 'must be at most 100 (percent)'),
    /** Once firing, resolve only when the drop is under dropBy − hysteresis (percent points). */
    hysteresis: z.number().nonnegative().default(0),
    /** Fewest individuals in each window for a verdict. */
    minDetections: z.number().int().min(1).default(10),
  })
  .superRefine((r, ctx) => {
    if (r.select.metric && r.select.metric !== 'count') ctx.addIssue({ code: 'custom', path: ['select', 'metric'], message: 'a diversity rule reads detections (metric count); leave the metric out' });
    if (r.select.domain && (r.select.domain.length !== 1 || r.select.domain[0] !== 'biodiversity')) ctx.addIssue({ code: 'custom', path: ['select', 'domain'], message: 'a diversity rule reads the biodiversity domain' });
    const offset = r.baseline.offset ?? r.window;
    if (offset < r.window) ctx.addIssue({ code: 'custom', path: ['baseline', 'offset'], message: 'must be at least the window, so the baseline comes before the current window' });
  });
export type DiversityRule = z.output<typeof diversitySchema>;

/** Species richness and Shannon index of counts per species. */
export function diversityIndex(counts: Map<string, number>, index: 'richness' | 'shannon'): { value: number; individuals: number; species: number } {
  let total = 0;
  let species = 0;
  for (const c of counts.values()) {
    if (c > 0) {
      total += c;
      species++;
    }
  }
  if (index === 'richness') return { value: species, individuals: total, species };
  let h = 0;
  for (const c of counts.values()) {
    if (c <= 0) continue;
    const p = c / total;
    h -= p * Math.log(p);
  }
  return { value: h, individuals: total, species };
}

/** Baseline window and offset with defaults applied. */
export function baselineOf(r: DiversityRule): { window: number; offset: number } {
  return { window: r.baseline.window ?? r.window, offset: r.baseline.offset ?? r.window };
}

export const diversity: KindDefinition<DiversityRule> = {
  kind: 'diversity',
  mode: 'window',
  description: 'species richness or Shannon index in a window falls X% below a baseline window',
  schema: diversitySchema,
  metrics: () => ['count'],
  spanMs: (r) => {
    const b = baselineOf(r);
    return Math.max(r.window, b.offset + b.window);
  },
  evaluate(rule, view, ctx) {
    const end = view.latestTs(['species']);
    if (end === undefined) return undefined;
    const b = baselineOf(rule);
    const cur = diversityIndex(view.species(end - rule.window, end), rule.index);
    const baseEnd = end - b.offset;
    // Half-open on the right so a detection exactly at the boundary counts once (in the current window).
    const base = diversityIndex(view.species(baseEnd - b.window, baseEnd - 1), rule.index);
    if (cur.individuals < rule.minDetections || base.individuals < rule.minDetections || base.value <= 0) return undefined;
    const drop = ((base.value - cur.value) / base.value) * 100;
    const limit = ctx.active ? rule.dropBy - rule.hysteresis : rule.dropBy;
    const active = drop > limit;
    const title = rule.title ?? (rule.index === 'richness' ? 'Species richness' : 'Shannon diversity');
    const where = wherePhrase(view.scope, view.hub, view.subject);
    const show = (x: { value: number }): string => (rule.index === 'richness' ? `${x.value} species` : `H = ${x.value.toFixed(2)}`);
    const baseWords = b.offset === rule.window && b.window === rule.window ? `the ${humanDuration(b.window)} before` : `the ${humanDuration(b.window)} ending ${humanDuration(b.offset)} earlier`;
    const compare = `${show(cur)} in the last ${humanDuration(rule.window)} (${fmt(cur.individuals)} individuals) vs ${show(base)} in ${baseWords} (${fmt(base.individuals)} individuals)`;
    const summary = active
      ? `${title} at ${where} fell ${fmt(drop)}% below its baseline: ${compare}; limit ${fmt(rule.dropBy)}%`
      : drop > 0
        ? `${title} at ${where} is ${fmt(drop)}% below its baseline, within the limit of ${fmt(rule.dropBy)}%: ${compare}`
        : `${title} at ${where} is at or above its baseline: ${compare}`;
    return {
      active,
      ts: end,
      value: drop,
      unit: '%',
      facts: { index: rule.index, current: cur.value, baseline: base.value, dropPercent: drop, limitPercent: rule.dropBy, currentIndividuals: cur.individuals, baselineIndividuals: base.individuals, window: formatDuration(rule.window) },
      summary,
    };
  },
};
