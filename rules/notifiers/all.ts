/**
 * The registry of notifiers: one line per notifier. Each lives in rules/notifiers/<name>/ with an
 * index.ts (a factory returning a `Notifier`), a README.md and an index.test.ts.
 */
import { createMqttNotifier } from './mqtt/index.ts';
import { createWebhookNotifier } from './webhook/index.ts';

export const NOTIFIERS = Object.freeze({
  /** Retained alert state on csm/v1/{hub}/alerts/{rule}/{subject}; also the regional escalation. */
  mqtt: createMqttNotifier,
  /** HTTP POST of JSON with retry and backoff. */
  webhook: createWebhookNotifier,
});

export { createMqttNotifier, REGIONAL_PREFIX, regionalTopic } from './mqtt/index.ts';
export { createWebhookNotifier } from './webhook/index.ts';
export type { Notification, Notifier, NotifyEvent, PublishFn, RetryPolicy } from './types.ts';
