/**
 * The registry of rule kinds: one line per kind. To add a kind, write rules/kinds/<kind>.ts
 * (a schema extending `ruleBaseShape` and a `KindDefinition`), add it here and to the `Rule` union.
 */
import { balance, type BalanceRule } from './balance.ts';
import { deadman, type DeadmanRule } from './deadman.ts';
import { depletion, type DepletionRule } from './depletion.ts';
import { diversity, type DiversityRule } from './diversity.ts';
import { rate, type RateRule } from './rate.ts';
import { threshold, type ThresholdRule } from './threshold.ts';
import type { KindDefinition } from './types.ts';

/** A parsed, validated rule of any kind. */
export type Rule = ThresholdRule | RateRule | DepletionRule | BalanceRule | DeadmanRule | DiversityRule;
export type RuleKind = Rule['kind'];

export const KINDS: { readonly [K in RuleKind]: KindDefinition<Extract<Rule, { kind: K }>> } = Object.freeze({
  threshold,
  rate,
  depletion,
  balance,
  deadman,
  diversity,
});

/** The kind definition of a rule, typed loosely for generic code. */
export function kindOf(rule: Rule): KindDefinition<Rule> {
  return KINDS[rule.kind] as unknown as KindDefinition<Rule>;
}

export function isKind(k: unknown): k is RuleKind {
  return typeof k === 'string' && Object.prototype.hasOwnProperty.call(KINDS, k);
}
