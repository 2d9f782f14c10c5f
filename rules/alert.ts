/**
 * The public shape of an alert: what MQTT subscribers, webhooks, the API and the alert sink see.
 * Times are ISO 8601 (UTC).
 */
import { type AlertRecord, type AlertState, messageOf } from './lifecycle.ts';
import type { Severity } from './spec.ts';

export interface AlertMessage {
  /** Stable id `{hub}.{rule}.{subject}`. */
  id: string;
  hub: string;
  rule: string;
  /** Sensor, site or hub the alert is about. */
  subject: string;
  scope: 'sensor' | 'site' | 'hub';
  kind: string;
  severity: Severity;
  state: AlertState;
  /** Counts the pending/firing periods of this alert. */
  episode: number;
  /** Plain words: what is wrong, where, since when, and the numbers. */
  message: string;
  /** The same without "since". */
  summary: string;
  value: number | null;
  unit: string | null;
  facts: Record<string, number | string>;
  labels: Record<string, string>;
  /** When the condition began (sensor time; wall clock for deadman). */
  activeAt: string | null;
  firedAt: string | null;
  resolvedAt: string | null;
  /** Wall clock of the last change. */
  updatedAt: string;
  acknowledged: { by: string; at: string; comment?: string } | null;
  /** Ids of the silences that hold back its notifications. */
  silencedBy: string[];
}

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

/** A state change as handed to the alert sink (e.g. the InfluxDB `alerts` measurement). */
export interface AlertEvent {
  /** Wall clock, epoch ms. */
  at: number;
  event: 'transition' | 'ack';
  from: AlertState;
  to: AlertState;
  alert: AlertMessage;
}

/** Where alert events are stored besides the engine's own state (injected; best effort). */
export interface AlertSink {
  write(events: AlertEvent[]): Promise<void>;
}
