/**
 * The rules of household aggregation, as pure functions (the aggregator that keeps the groups,
 * the budgets and the draws is egress/households.ts):
 *
 * - the 15/15 floor (`decideGroup`): a group is published only with at least `minHouseholds`
 *   households and none above `maxShare` of the load;
 * - Laplace noise (`laplace`) of scale maxLoadW / epsilonPerWindow, from the uniform numbers given;
 * - the guarantee in numbers (`bestGuessProbability`), as the policy's explanation states it.
 */
import type { HouseholdRules } from './policy.ts';

/** Why a group was not published. */
export type SuppressionReason = 'too_few_households' | 'dominant_household';

/**
 * One draw of Laplace noise of scale `b` (density exp(-|x|/b) / 2b), by inverting its CDF.
 * @param uniform - a uniform number in (0, 1)
 */
export function laplace(b: number, uniform: () => number): number {
  const u = uniform() - 0.5;
  return -b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
}

/**
 * The guarantee in numbers: with ε per household per day, anyone who sees every published total —
 * and knows everything else, including every other home's meter — tells apart two possible days of
 * one household (whose mean loads differ by up to `maxLoadW`) correctly at most this often.
 */
export function bestGuessProbability(epsilon: number): number {
  return Math.exp(epsilon) / (1 + Math.exp(epsilon));
}

/** The decision for one group. */
export interface GroupDecision {
  publish: boolean;
  reason?: SuppressionReason;
  households: number;
  /** Sum of the households' mean loads (W). */
  total: number;
  /** Largest share of one household (0–1); 0 when the total is 0. */
  maxShare: number;
}

/**
 * The 15/15 test on one group: `loads` holds each household's mean load over the window.
 * Publish when there are at least `minHouseholds` and no share exceeds `maxShare`.
 */
export function decideGroup(loads: readonly number[], rules: Pick<HouseholdRules, 'minHouseholds' | 'maxShare'>): GroupDecision {
  const total = loads.reduce((a, b) => a + b, 0);
  const max = loads.reduce((a, b) => Math.max(a, b), 0);
  const maxShare = total > 0 ? max / total : 0;
  if (loads.length < rules.minHouseholds) return { publish: false, reason: 'too_few_households', households: loads.length, total, maxShare };
  if (maxShare > rules.maxShare) return { publish: false, reason: 'dominant_household', households: loads.length, total, maxShare };
  return { publish: true, households: loads.length, total, maxShare };
}
