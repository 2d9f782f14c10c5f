/**
 * privacy/: the privacy policy as pure functions. Parse a policy's text, compile it, apply it to a
 * reading, scrub free text, coarsen locations, pseudonymise with the key material given, explain
 * the policy, and shape what may be published. No files, databases, network or timers: the state
 * and I/O around it (household groups, known names, key files, policy reloading, publishers) are
 * egress/'s. README.md documents the policy format.
 */
export { DEFAULT_POLICY_PATH, MIN_SENSITIVE_GRID, POLICY_VERSION_PATTERN, areaSlug, compilePolicy, durationMs, fixedPolicy, isSensitiveTaxon, normaliseTaxon, parsePolicy, policySchema } from './policy.ts';
export type { CompileOptions, CompiledPolicy, DomainRules, FilterEnv, FilterOutcome, HouseholdContribution, HouseholdRules, LocationRule, LocationRuleSpec, MetricOp, PolicyDocument, PolicySource } from './policy.ts';
export { SCRUB_KINDS, SCRUB_MARKERS, compileNames, fold, scrubForPublic, scrubText, withPublicAckComment, withPublicHistoryComment } from './scrub.ts';
export type { NameMatcher, ScrubKind, ScrubOptions, ScrubResult } from './scrub.ts';
export { describeDegrees, geohashBounds, geohashCellSize, geohashEncode, snapAxis, snapToGeohashCell, snapToGridCell } from './geo.ts';
export type { LatLon } from './geo.ts';
export { explainPolicy, explanationText, householdText } from './explain.ts';
export type { EffectiveDomainRules, ExplanationSection, PolicyExplanation } from './explain.ts';
export { toPublicRecord } from './record.ts';
export type { PublicRecord } from './record.ts';
export { KEY_ID_PATTERN, MIN_SECRET_LENGTH, PSEUDONYM_PATTERN, checkKey, checkKeyId, memoryKeyring, pseudonymOf } from './keys.ts';
export type { Keyring } from './keys.ts';
export { bestGuessProbability, decideGroup, laplace } from './households.ts';
export type { GroupDecision, SuppressionReason } from './households.ts';
export { createDefaultFilter, snapToGrid } from './default-filter.ts';
export { PRIVACY_ACTIONS, PRIVACY_ERRORS, PrivacyError, ignoreActions } from './errors.ts';
export type { ActionSink, PrivacyAction, PrivacyErrorCode } from './errors.ts';
export { VALUE_FILTERS } from './filters/all.ts';
export type { ValueFilter } from './filters/all.ts';
export { FREE_TEXT_ATTRIBUTES } from './filters/types.ts';
export type { PrivacyFilter } from '../core/privacy-filter.ts';
