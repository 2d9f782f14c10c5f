/**
 * The limits the dashboards draw, read from the rules that raise the alerts (rules/defaults/), so
 * Grafana, the console and the alerts cannot disagree: the aquifer's safe minimum is the depletion
 * rule's floor, the battery's reserve the battery rule's limit, soil moisture, river stage and
 * dissolved oxygen the limits (and hysteresis) of their threshold rules. Change a rule, rebuild the
 * dashboards (`npx tsx dashboards/src/build.ts`): the build test fails until you do.
 */
import { DEFAULT_RULES_DIR } from '../../rules/index.ts';
import type { Rule } from '../../rules/index.ts';
import { formatIssue, loadRules } from '../../rules/index.ts';

function demoRules(): Map<string, Rule> {
  const loaded = loadRules([DEFAULT_RULES_DIR]);
  if (!loaded.ok) throw new Error(`the demo rules do not load:\n${loaded.errors.map(formatIssue).join('\n')}`);
  return new Map(loaded.ruleSet.rules.map((r) => [r.rule.id, r.rule]));
}

function rule<K extends Rule['kind']>(rules: Map<string, Rule>, id: string, kind: K): Extract<Rule, { kind: K }> {
  const r = rules.get(id);
  if (!r || r.kind !== kind) throw new Error(`dashboards need the ${kind} rule "${id}" in ${DEFAULT_RULES_DIR}`);
  return r as Extract<Rule, { kind: K }>;
}

const rules = demoRules();
const depletion = rule(rules, 'aquifer-depletion', 'depletion');
const battery = rule(rules, 'battery-low', 'threshold');

/** Id of the depletion rule whose evaluations the watershed dashboard shows (`rule_evaluations`). */
export const AQUIFER_RULE = depletion.id;
/** Safe minimum of the pumped wells' (24-hour mean) level, m above datum: `aquifer-depletion`'s floor. */
export const AQUIFER_FLOOR_M = depletion.floor;
/** Battery reserve, %: `battery-low` fires below it. */
export const BATTERY_RESERVE_PCT = battery.below as number;
/** Where `battery-low` resolves (reserve + hysteresis), %. */
export const BATTERY_CLEAR_PCT = (battery.below as number) + battery.hysteresis;

/** A `below` threshold rule's limit and where it resolves (limit + hysteresis), in the metric's unit. */
function belowBand(id: string): { limit: number; clear: number } {
  const r = rule(rules, id, 'threshold');
  if (r.below === undefined) throw new Error(`dashboards need the threshold rule "${id}" in ${DEFAULT_RULES_DIR} to have a below limit`);
  return { limit: r.below, clear: r.below + r.hysteresis };
}

/** Soil moisture, m³/m³: `soil-moisture-low` fires below `limit` (for its duration) and resolves at `clear`. */
export const SOIL_MOISTURE = belowBand('soil-moisture-low');
/** Dissolved oxygen, mg/l: `river-oxygen-low`'s limit and where it resolves. */
export const RIVER_OXYGEN = belowBand('river-oxygen-low');
/** River stage, m: `river-stage-low`'s limit and where it resolves. */
export const RIVER_STAGE = belowBand('river-stage-low');
