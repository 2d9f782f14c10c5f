/**
 * What every stage of the rules engine shares: the logger, the injected wall clock, the metrics,
 * and the alert state database (`rules.db`), open between the engine's `init()` and `stop()`.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { RulesMetrics } from './metrics.ts';
import type { AlertStateStore } from './state.ts';

export interface StageContext {
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: RulesMetrics | undefined;
  /** The open state database; undefined before `init()` and after `stop()`. */
  state: AlertStateStore | undefined;
}
