/**
 * The last stage: notify with retry. Each (alert, target) pair has its own queue, so a slow
 * webhook never holds back MQTT and a `resolved` never overtakes the `firing` before it.
 * Retryable failures are retried with exponential backoff and jitter (Retry-After honoured);
 * a refused notification is given up at once; when retries run out, the delivery stays
 * outstanding and the engine's housekeeping tries again later.
 */
import type { Logger } from 'pino';
import { backoffDelay, JITTER_20_PERCENT } from '../core/backoff.ts';
import { NotifyError } from './errors.ts';
import type { RulesMetrics } from './metrics.ts';
import type { Notification, Notifier } from './notifiers/types.ts';

/** How one delivery ended. `rejected`: refused for good; `failed`: retries exhausted or stopped. */
export type DeliveryOutcome = 'delivered' | 'rejected' | 'failed';

export interface DispatcherOptions {
  logger: Logger;
  metrics?: RulesMetrics | undefined;
  /** Called when a delivery ends, whatever the outcome. */
  onResult(alertId: string, target: string, n: Notification, outcome: DeliveryOutcome): void;
  /** Jitter source in [0, 1) (tests make it fixed). */
  random?: () => number;
}

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #queues = new Map<string, Promise<void>>();
  readonly #inFlight = new Map<string, number>();
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #stopping = false;

  constructor(o: DispatcherOptions) {
    this.#o = o;
  }

  /** Is any delivery of this alert queued or running? */
  busy(alertId: string, target?: string): boolean {
    if (target) return (this.#inFlight.get(`${alertId}|${target}`) ?? 0) > 0;
    for (const [k, n] of this.#inFlight) if (n > 0 && k.startsWith(`${alertId}|`)) return true;
    return false;
  }

  /** Queues a notification to one target. */
  send(notifier: Notifier, n: Notification): void {
    if (notifier.events && !notifier.events.includes(n.event)) return;
    const key = `${n.alert.id}|${notifier.name}`;
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    const prev = this.#queues.get(key) ?? Promise.resolve();
    const next = prev
      .then(() => this.#deliver(notifier, n))
      .then((outcome) => {
        try {
          this.#o.onResult(n.alert.id, notifier.name, n, outcome);
        } catch (err) {
          this.#o.logger.error({ err }, 'recording a delivery failed');
        }
      })
      .finally(() => {
        const left = (this.#inFlight.get(key) ?? 1) - 1;
        if (left <= 0) {
          this.#inFlight.delete(key);
          if (this.#queues.get(key) === next) this.#queues.delete(key);
        } else this.#inFlight.set(key, left);
      });
    this.#queues.set(key, next);
  }

  async #deliver(notifier: Notifier, n: Notification): Promise<DeliveryOutcome> {
    const { maxAttempts, initialMs, maxMs } = notifier.retry;
    const log = this.#o.logger;
    const m = this.#o.metrics?.notifications;
    for (let attempt = 1; ; attempt++) {
      if (this.#stopping && attempt > 1) {
        m?.inc({ target: notifier.name, outcome: 'failed' });
        return 'failed';
      }
      try {
        await notifier.notify(n);
        m?.inc({ target: notifier.name, outcome: 'delivered' });
        log.debug({ alert: n.alert.id, target: notifier.name, event: n.event, attempt }, 'alert delivered');
        return 'delivered';
      } catch (e) {
        const err = e instanceof NotifyError ? e : new NotifyError('RULES_ERR_NOTIFIER_NETWORK', (e as Error).message, true, undefined, { cause: e });
        if (!err.retryable) {
          m?.inc({ target: notifier.name, outcome: 'rejected' });
          log.error({ alert: n.alert.id, target: notifier.name, code: err.code, err: err.message }, 'alert refused by the receiver; not retried');
          return 'rejected';
        }
        if (attempt >= maxAttempts || this.#stopping) {
          m?.inc({ target: notifier.name, outcome: 'failed' });
          log.warn({ alert: n.alert.id, target: notifier.name, code: err.code, err: err.message, attempts: attempt }, 'alert delivery failed; will try again later');
          return 'failed';
        }
        m?.inc({ target: notifier.name, outcome: 'retried' });
        const wait = Math.max(backoffDelay(attempt, { initialMs, maxMs, jitter: JITTER_20_PERCENT, random: this.#o.random }), err.retryAfterMs ?? 0);
        log.info({ alert: n.alert.id, target: notifier.name, code: err.code, err: err.message, attempt, retryInMs: wait }, 'alert delivery failed; retrying');
        await this.#sleep(wait);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.#sleeps.add(entry);
    });
  }

  /** Resolves when nothing is queued (tests). */
  async idle(): Promise<void> {
    while (this.#queues.size) await Promise.allSettled([...this.#queues.values()]);
  }

  /** Stops retrying (a delivery in progress gets its current attempt) and waits up to `timeoutMs`. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.#stopping = true;
    for (const s of this.#sleeps) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.#sleeps.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
