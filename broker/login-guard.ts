/**
 * Failed-login backoff, per username and per source address, checked at CONNECT before the
 * password is (so a guesser costs the broker a map lookup, not a hash). Pure bookkeeping with an
 * injected clock; the broker calls `check` before `registry.authenticate`, then `failed` or
 * `succeeded`.
 *
 * For each key (`user:{username}`, `addr:{address}`): the first `freeFailures` failures cost
 * nothing; each further one closes the key for `baseDelayMs × 2^(n-1)`, capped at `maxDelayMs`;
 * after `lockoutAfter` failures the key is locked for `lockoutMs`, and each further failure locks it again.
 * Attempts refused while a key is closed are not counted (a device retrying every second stays
 * on its schedule) and never reach the password check, right or wrong. A key with no failure for
 * `forgetAfterMs` is forgotten; a successful login clears its username (not its address, or one
 * valid account would launder guesses against others from the same address).
 * @module
 */
import { backoffDelay } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';

/** Limits of one kind of key. */
export interface BackoffLimits {
  /** Failures before any delay. */
  freeFailures: number;
  /** Failures after which the key is locked for `lockoutMs`. */
  lockoutAfter: number;
}

/** Options of {@link LoginGuard} (config `mqtt.loginBackoff`). */
export interface LoginGuardOptions {
  username: BackoffLimits;
  address: BackoffLimits;
  baseDelayMs: number;
  maxDelayMs: number;
  lockoutMs: number;
  forgetAfterMs: number;
  /** Most keys remembered; the oldest are dropped beyond it (bounds memory under a spray). */
  maxEntries?: number;
}

/** Why a CONNECT was turned away before its password was checked. */
export interface LoginBlock {
  /** `login_backoff` while delayed, `login_lockout` while locked. */
  reason: 'login_backoff' | 'login_lockout';
  /** Which key is closed. */
  key: 'username' | 'address';
  /** Ms until the key opens again. */
  retryInMs: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  /** Closed until this time (epoch ms); 0 = open. */
  until: number;
  locked: boolean;
}

export class LoginGuard {
  readonly #opts: Required<LoginGuardOptions>;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(opts: LoginGuardOptions, clock: Clock) {
    this.#opts = { maxEntries: 100_000, ...opts };
    this.#clock = clock;
  }

  /** Undefined when this username and address may try a password now; else why not. */
  check(username: string, address: string | undefined): LoginBlock | undefined {
    const now = this.#clock.now();
    for (const [kind, key] of this.#keys(username, address)) {
      const e = this.#get(key, now);
      if (e && e.until > now) return { reason: e.locked ? 'login_lockout' : 'login_backoff', key: kind, retryInMs: e.until - now };
    }
    return undefined;
  }

  /** Records a wrong password or unknown username. */
  failed(username: string, address: string | undefined): void {
    const now = this.#clock.now();
    for (const [kind, key] of this.#keys(username, address)) {
      const limits = this.#opts[kind];
      let e = this.#get(key, now);
      if (!e) {
        e = { failures: 0, lastFailureAt: now, until: 0, locked: false };
        this.#set(key, e);
      }
      e.failures++;
      e.lastFailureAt = now;
      if (e.failures >= limits.lockoutAfter) {
        e.until = now + this.#opts.lockoutMs;
        e.locked = true;
        // After the lockout, the next failure locks again (until forgotten or a success).
        e.failures = limits.lockoutAfter - 1;
      } else if (e.failures > limits.freeFailures) {
        const n = e.failures - limits.freeFailures;
        e.until = now + backoffDelay(n, { initialMs: this.#opts.baseDelayMs, maxMs: this.#opts.maxDelayMs });
        e.locked = false;
      }
    }
  }

  /** Records a successful login: the username starts afresh. */
  succeeded(username: string): void {
    this.#entries.delete(`user:${username}`);
  }

  /** Keys remembered (for tests and metrics). */
  size(): number {
    return this.#entries.size;
  }

  #keys(username: string, address: string | undefined): Array<['username' | 'address', string]> {
    const keys: Array<['username' | 'address', string]> = [['username', `user:${username}`]];
    if (address) keys.push(['address', `addr:${address}`]);
    return keys;
  }

  #get(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && e.until <= now && now - e.lastFailureAt > this.#opts.forgetAfterMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  #set(key: string, e: Entry): void {
    if (this.#entries.size >= this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, e);
  }
}
