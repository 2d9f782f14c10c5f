/**
 * The notifier interface. A notifier delivers one notification and throws a `NotifyError` saying
 * whether a retry could help; the dispatcher (rules/dispatcher.ts) does the retrying with
 * exponential backoff. Add a notifier: rules/notifiers/<name>/index.ts + a line in all.ts.
 */
import type { AlertMessage } from '../alert.ts';

/**
 * `firing`: the alert started firing; `renotify`: still firing, not acknowledged, reminder;
 * `resolved`: it stopped; `update`: same state, something changed (acknowledged).
 */
export type NotifyEvent = 'firing' | 'renotify' | 'resolved' | 'update';

export interface Notification {
  event: NotifyEvent;
  alert: AlertMessage;
}

/** How often and how patiently to retry a retryable failure. */
export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  maxMs: number;
}

export interface Notifier {
  /** Delivery target name: `mqtt`, `regional`, `webhook:<name>`. */
  readonly name: string;
  readonly retry: RetryPolicy;
  /** Which events this notifier wants (default all). */
  readonly events?: readonly NotifyEvent[];
  /** Delivers; throws NotifyError. */
  notify(n: Notification): Promise<void>;
}

/** Publishes one MQTT message (injected: the broker client of the process). */
export type PublishFn = (topic: string, payload: string | Buffer, opts: { qos: 0 | 1 | 2; retain: boolean }) => Promise<void>;
