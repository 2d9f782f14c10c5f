/**
 * The shape of a value filter: one operation a policy can name for an attribute or a metric
 * (`observer_email: drop`, `household_id: pseudonymise`, `note: scrub`). Each lives in
 * `privacy/filters/<name>/index.ts` with its test beside it, and is listed once in `all.ts`.
 * Structural rules (location, time, sensitive taxa, household aggregation) are part of the
 * policy itself (policy.ts), not value filters.
 */
import type { PrivacyAction, PrivacyErrorCode } from '../errors.ts';
import type { NameMatcher, ScrubKind } from '../scrub.ts';

export type FieldTarget = 'attribute' | 'metric';
export type ValueType = 'string' | 'number' | 'boolean';
export type FieldValue = string | number | boolean;

/**
 * Attributes holding free text typed by people. `scrub` may publish a personal field only if it
 * is free text: scrubbing a name leaves the name. (Candidate for a `freeText` flag in
 * core/catalogue.ts.)
 */
export const FREE_TEXT_ATTRIBUTES: ReadonlySet<string> = new Set(['note']);

/** What a filter knows about the field it is compiled for (from core/catalogue.ts). */
export interface FieldInfo {
  target: FieldTarget;
  name: string;
  description: string;
  personal: boolean;
  type: ValueType;
  freeText: boolean;
}

/** What the policy gives every filter at compile time. */
export interface CompileContext {
  /** The key the policy names for pseudonyms (undefined when it names none). */
  key: { id: string; secret: Buffer } | undefined;
}

/** One value to filter, with what the filter may need from the rest of the reading. */
export interface FilterInput {
  value: FieldValue;
  /** Personal string values of the same reading (names, emails…), which `scrub` also removes. */
  personalValues: readonly string[];
  /** Every name the hub knows (observers, account holders), which `scrub` also removes. */
  names?: NameMatcher;
}

/** What the scrubber removed from the value, by kind (counted in `steward_privacy_scrubbed_total{kind}`). */
export type ScrubCounts = Partial<Record<ScrubKind, number>>;

export type FilterResult = { keep: true; value: FieldValue; action?: PrivacyAction; scrubbed?: ScrubCounts } | { keep: false; action: PrivacyAction; scrubbed?: ScrubCounts };

/** A filter compiled for one field: pure, synchronous, never throws for a value of the field's type. */
export type CompiledValueFilter = (input: FilterInput) => FilterResult;

/** A problem found when a policy names this filter for a field. */
export interface FilterProblem {
  code: PrivacyErrorCode;
  message: string;
}

export interface ValueFilter {
  /** Name used in policy files. */
  readonly name: string;
  /** One line for the README and the policy endpoint. */
  readonly summary: string;
  readonly targets: readonly FieldTarget[];
  readonly types: readonly ValueType[];
  /** The output carries the input value unchanged: never allowed on a personal field. */
  readonly publishesRaw: boolean;
  /** A problem with using this filter on `field` beyond targets, types and `publishesRaw`. */
  check?(field: FieldInfo, ctx: CompileContext): FilterProblem | undefined;
  /** Plain language, for residents: what happens to `field`. */
  explain(field: FieldInfo): string;
  compile(field: FieldInfo, ctx: CompileContext): CompiledValueFilter;
}
