/**
 * The limits the overview draws each stock against, taken from the rules that watch it, so the
 * page and the alerts never disagree: a `threshold` rule's `below`/`above` limit, a `depletion`
 * rule's `floor` (the safe minimum) and a `rate` rule's limit on the trend, with how those rules
 * fit their trends (window, smoothing, minimum evidence).
 */
import { loadRules } from './loader.ts';
import type { Rule } from './kinds/all.ts';
import type { ConsoleThreshold } from '../core/views.ts';

/** One limit on one metric, for the sensors (or hubs, sites) a rule selects: the contract's view (core/views.ts). */
export type { ConsoleThreshold };

const list = (v: '*' | string[] | undefined): string[] | undefined => (v === undefined || v === '*' ? undefined : [...v]);

/** The limits of a list of rules (disabled rules and kinds without a level limit are skipped). */
export function thresholdsFromRules(rules: readonly Rule[]): ConsoleThreshold[] {
  const out: ConsoleThreshold[] = [];
  for (const r of rules) {
    if (!r.enabled || !r.select.metric) continue;
    const base = { rule: r.id, metric: r.select.metric, severity: r.severity };
    const where: Pick<ConsoleThreshold, 'hubs' | 'sensors' | 'sites'> = {};
    const hubs = list(r.select.hub);
    const sensors = list(r.select.sensor);
    const sites = list(r.select.site);
    if (hubs) where.hubs = hubs;
    if (sensors) where.sensors = sensors;
    if (sites) where.sites = sites;
    if (r.kind === 'threshold') {
      const direction = r.above !== undefined ? 'above' : 'below';
      const value = (r.above ?? r.below) as number;
      const t: ConsoleThreshold = { ...base, ...where, direction, value, kind: 'threshold', label: r.title ? `${r.title} limit` : 'limit' };
      if (r.hysteresis) t.clearAt = direction === 'below' ? value + r.hysteresis : value - r.hysteresis;
      out.push(t);
    } else if (r.kind === 'rate') {
      const direction = r.above !== undefined ? 'above' : 'below';
      const trend = { windowMs: r.window, smoothMs: r.smooth, minPoints: r.minPoints, minSpanMs: r.minSpan ?? r.window / 4 };
      out.push({ ...base, ...where, direction, value: (r.above ?? r.below) as number, kind: 'rate', perMs: r.per, label: 'rate limit', trend });
    } else if (r.kind === 'depletion') {
      const trend = { windowMs: r.window, smoothMs: r.smooth, minPoints: r.minPoints, minSpanMs: r.minSpan ?? r.window / 4, minR2: r.minR2 };
      out.push({ ...base, ...where, direction: 'below', value: r.floor, kind: 'floor', label: 'safe minimum', trend });
    }
  }
  return out;
}

/**
 * The limits of the rule files at `paths` (as `steward rules check` reads them). An invalid rule
 * set gives no limits rather than an error: the console still shows the stocks, and the rules
 * engine reports the errors.
 */
export function thresholdsFromRulesDir(paths: string | readonly string[]): ConsoleThreshold[] {
  const r = loadRules(paths);
  return r.ok ? thresholdsFromRules(r.ruleSet.rules.map((l) => l.rule)) : [];
}
