/**
 * Webhook delivery: POSTs `{ version, event, alert }` as JSON to a receiver declared under
 * `webhooks:` in a rule file. Each attempt has a timeout; network errors, timeouts, 5xx and 429
 * are retryable (Retry-After honoured), any other non-2xx is not (the receiver refused it).
 */
import { parseRetryAfter } from '../../../core/backoff.ts';
import { NotifyError } from '../../errors.ts';
import type { WebhookConfig } from '../../spec.ts';
import type { Notification, Notifier } from '../types.ts';

export interface WebhookDeps {
  /** Injected for tests; the global fetch by default. */
  fetch?: typeof fetch;
}

/** Creates the notifier for one webhook receiver (target name `webhook:<name>`). */
export function createWebhookNotifier(cfg: WebhookConfig, deps: WebhookDeps = {}): Notifier {
  const doFetch = deps.fetch ?? fetch;
  return {
    name: `webhook:${cfg.name}`,
    retry: { maxAttempts: cfg.maxAttempts, initialMs: cfg.backoff.initial, maxMs: cfg.backoff.max },
    events: ['firing', 'renotify', 'resolved'],
    async notify(n: Notification) {
      let res: Response;
      try {
        res = await doFetch(cfg.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'steward-rules/1', ...cfg.headers },
          body: JSON.stringify({ version: '1', event: n.event, alert: n.alert }),
          signal: AbortSignal.timeout(cfg.timeout),
        });
      } catch (e) {
        const err = e as Error;
        if (err.name === 'TimeoutError' || err.name === 'AbortError')
          throw new NotifyError('RULES_ERR_NOTIFIER_TIMEOUT', `webhook ${cfg.name}: no answer within ${cfg.timeout} ms`, true, undefined, { cause: e });
        const cause = (err as { cause?: { code?: string } }).cause;
        throw new NotifyError('RULES_ERR_NOTIFIER_NETWORK', `webhook ${cfg.name}: ${cause?.code ?? err.message}`, true, undefined, { cause: e });
      }
      // Drain the body so the connection can be reused; its content only matters for the log.
      const text = await res.text().catch(() => '');
      if (res.ok) return;
      const detail = `webhook ${cfg.name} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
      if (res.status === 429 || res.status >= 500) throw new NotifyError('RULES_ERR_NOTIFIER_UNAVAILABLE', detail, true, parseRetryAfter(res.headers.get('retry-after')));
      throw new NotifyError('RULES_ERR_NOTIFIER_REJECTED', detail, false);
    },
  };
}
