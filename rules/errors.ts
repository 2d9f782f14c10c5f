/**
 * Coded errors of the rules engine. Each code is stable, has an HTTP status where the API answers
 * with it, and rules/README.md lists the same codes (errors.test.ts keeps them in step).
 */
import { createHttpError } from '../core/errors.ts';

/** Stable error codes with their HTTP status (0 where no HTTP answer carries them). */
export const RULES_ERRORS = {
  RULES_ERR_INVALID: { status: 0, description: 'a rule file is invalid (the message names the file, the rule and the field)' },
  RULES_ERR_READ: { status: 0, description: 'a rule file or directory cannot be read' },
  RULES_ERR_STATE: { status: 0, description: 'the alert state database cannot be opened or written' },
  RULES_ERR_NOT_FOUND: { status: 404, description: 'no alert or silence with that id' },
  RULES_ERR_NOT_ACKABLE: { status: 409, description: 'the alert is not pending or firing, so there is nothing to acknowledge' },
  RULES_ERR_SILENCE_INVALID: { status: 400, description: 'a silence needs at least one matcher, a comment and an end in the future' },
  RULES_ERR_NOTIFIER_TIMEOUT: { status: 0, description: 'a notifier did not answer in time (retried)' },
  RULES_ERR_NOTIFIER_NETWORK: { status: 0, description: 'a notifier could not be reached (retried)' },
  RULES_ERR_NOTIFIER_REJECTED: { status: 0, description: 'a notifier refused the alert with a 4xx answer (not retried)' },
  RULES_ERR_NOTIFIER_UNAVAILABLE: { status: 0, description: 'a notifier answered 5xx or 429 (retried, honouring Retry-After)' },
} as const;

export type RulesErrorCode = keyof typeof RULES_ERRORS;

/** An error of the rules engine with a stable code (and an HTTP status for the API: 500 where the table says 0). */
export const RulesError = createHttpError<RulesErrorCode>('RulesError', RULES_ERRORS);
export type RulesError = InstanceType<typeof RulesError>;

/**
 * A failed delivery. `retryable` decides whether the dispatcher tries again: network errors,
 * timeouts, 5xx and 429 are retryable, any other 4xx is not. `retryAfterMs` comes from Retry-After.
 */
export class NotifyError extends RulesError {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(code: Extract<RulesErrorCode, `RULES_ERR_NOTIFIER_${string}`>, message: string, retryable: boolean, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}
