/**
 * The public shape of an alert: what MQTT subscribers, webhooks, the API and the alert sink see.
 * Times are ISO 8601 (UTC).
 */
import type { AlertMessage } from '../core/alert.ts';
import { type AlertRecord, messageOf } from './lifecycle.ts';

export type { AlertEvent, AlertMessage, AlertSink } from '../core/alert.ts';


const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Public form of an alert record. `forMs` adds "fires if it lasts …" to pending messages. */
export function toMessage(a: AlertRecord, opts: { forMs?: number; silencedBy?: string[] } = {}): AlertMessage {
  return {
    id: a.id,
    hub: a.hub,
    rule: a.rule,
    subject: a.subject,
    scope: a.scope,
    kind: a.kind,
    severity: a.severity,
    state: a.state,
    episode: a.episode,
    message: messageOf(a, opts.forMs),
    summary: a.summary,
    value: a.value === null || Number.isFinite(a.value) ? a.value : null,
    unit: a.unit,
    facts: a.facts,
    labels: a.labels,
    activeAt: iso(a.activeAt),
    firedAt: iso(a.firedAt),
    resolvedAt: iso(a.resolvedAt),
    updatedAt: new Date(a.updatedAt).toISOString(),
    acknowledged: a.ack ? { by: a.ack.by, at: new Date(a.ack.at).toISOString(), ...(a.ack.comment ? { comment: a.ack.comment } : {}) } : null,
    silencedBy: opts.silencedBy ?? [],
  };
}

