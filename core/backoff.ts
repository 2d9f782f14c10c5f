/**
 * Capped exponential backoff, the one way Steward waits between tries: `initialMs` after the first
 * failure, doubling after each further one, never above `maxMs`; optionally spread at random
 * (jitter) so that many clients do not retry in step. A success starts again from `initialMs`.
 *
 * `backoffDelay` is the pure rule (by the count of failures); `Backoff` keeps that count for a
 * retry loop; `parseRetryAfter` reads the wait a server asks for.
 */

/**
 * `Retry-After` (delta seconds or an HTTP date, RFC 9110 §10.2.3) in ms, or undefined when absent
 * or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A random spread of each delay: the delay is `step * (from + width * random())`, rounded. */
export interface Jitter {
  from: number;
  width: number;
}

/** ±20 %: `step * [0.8, 1.2)`. */
export const JITTER_20_PERCENT: Jitter = { from: 0.8, width: 0.4 };
/** Half to all of the step: `step * [0.5, 1]`. */
export const JITTER_HALF: Jitter = { from: 0.5, width: 0.5 };

export interface BackoffOptions {
  /** Delay after the first failure, ms. */
  initialMs: number;
  /** Longest delay, ms. */
  maxMs: number;
  /** Random spread (default none: exact powers of two of `initialMs`). */
  jitter?: Jitter;
  /** Source in [0, 1) for the jitter (default Math.random; tests fix it). */
  random?: () => number;
}

/**
 * The delay after `failures` failures in a row (1: the first), ms: `initialMs * 2^(failures - 1)`,
 * at most `maxMs`, then jittered (and rounded) when `jitter` is set.
 */
export function backoffDelay(failures: number, o: BackoffOptions): number {
  // The exponent is bounded so that a long outage cannot make the step Infinity (or NaN for 0 ms).
  const step = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(Math.max(0, failures - 1), 1000));
  if (!o.jitter) return step;
  return Math.round(step * (o.jitter.from + o.jitter.width * (o.random ?? Math.random)()));
}

/** The failure count of one retry loop. */
export class Backoff {
  readonly #o: BackoffOptions;
  #failures = 0;

  constructor(o: BackoffOptions) {
    this.#o = o;
  }

  /** Failures since the last success (0: not backing off). */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Counts a failure and returns how long to wait before the next try, ms; at least `atLeastMs`
   * (a server's Retry-After).
   */
  next(atLeastMs = 0): number {
    return Math.max(backoffDelay(++this.#failures, this.#o), atLeastMs);
  }

  /** A success: the next failure waits `initialMs` again. */
  reset(): void {
    this.#failures = 0;
  }
}
