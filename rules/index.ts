/**
 * The rules engine's public surface (rules/README.md): the engine factory, the rule checker, and
 * the types the other roles wire against (its HTTP routes are the API's: api/routes/alerts/).
 */
export { createRulesEngine, type AlertFilter, type HistoryView, type RuleInfo, type RulesEngine, type RulesEngineOptions, type SilenceInput, type SilenceView } from './engine.ts';
export { checkRules, DEFAULT_RULES_DIR, type CheckResult } from './check.ts';
export { loadRules, formatIssue, type RuleIssue, type RuleSet } from './loader.ts';
export { cronScheduler, ManualScheduler, type Scheduler, type ScheduledTask } from './scheduler.ts';
export { RULES_ERRORS, RulesError, NotifyError, type RulesErrorCode } from './errors.ts';
export type { AlertEvent, AlertMessage, AlertSink } from './alert.ts';
export type { AlertState } from './lifecycle.ts';
export type { Silence, SilenceMatchers } from './state.ts';
export type { PublishFn } from './notifiers/types.ts';
export { REGIONAL_PREFIX, regionalTopic } from './notifiers/mqtt/index.ts';
export { thresholdsFromRules, thresholdsFromRulesDir } from './thresholds.ts';
export { type Rule } from './kinds/all.ts';
export { type Severity } from './spec.ts';
