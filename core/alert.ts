/**
 * The alert contract: what an alert is and how it changes, as the rules engine raises it and every
 * reader (MQTT subscribers, webhooks, the API, the console, the alert sink in storage) sees it.
 * Times in `AlertMessage` are ISO 8601 (UTC); the others are epoch ms.
 */

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ALERT_STATES = ['inactive', 'pending', 'firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** The public shape of an alert. */
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

/** Matchers of a silence: each given field must match (`*` is a wildcard inside a value). */
export interface SilenceMatchers {
  rule?: string;
  hub?: string;
  subject?: string;
  severity?: Severity;
}

export interface Silence {
  id: string;
  matchers: SilenceMatchers;
  /** Who created it. */
  createdBy: string;
  /** Why. */
  comment: string;
  /** Wall clock, epoch ms. */
  startsAt: number;
  endsAt: number;
  createdAt: number;
  /** Set when removed before its end. */
  expiredAt?: number;
  expiredBy?: string;
}

/** A silence with its status now. */
export type SilenceWithStatus = Silence & { status: 'active' | 'pending' | 'expired' };

/** Which alerts to list (every field optional; `limit` caps the answer). */
export interface AlertFilter {
  state?: AlertState | readonly AlertState[];
  /** One hub, or any of several (a token limited to hubs). */
  hub?: string | readonly string[];
  severity?: Severity;
  rule?: string;
  subject?: string;
  /** Most alerts returned. */
  limit?: number;
}

/** A new silence. Times are epoch ms (wall clock); give `endsAt` or `durationMs` (from `startsAt`, default now). */
export interface SilenceInput {
  matchers: SilenceMatchers;
  createdBy: string;
  comment: string;
  endsAt?: number;
  durationMs?: number;
  startsAt?: number;
}

/** One entry of an alert's history. */
export interface HistoryEntry {
  alertId: string;
  /** Wall clock, epoch ms. */
  at: number;
  /** Observation time (sensor time; wall clock for deadman). */
  ts: number | null;
  event: 'transition' | 'ack' | 'silenced' | 'notified' | 'rule_removed';
  from: AlertState | null;
  to: AlertState | null;
  episode: number;
  message: string;
  by: string | null;
}

/** One history entry as the API shows it (times ISO 8601). */
export interface HistoryView {
  at: string;
  ts: string | null;
  event: HistoryEntry['event'];
  from: AlertState | null;
  to: AlertState | null;
  episode: number;
  message: string;
  by: string | null;
}

/**
 * Alerts and silences as the API reads and changes them: the rules engine serves it. Its errors
 * carry a `code`: `RULES_ERR_NOT_FOUND` (404), `RULES_ERR_SILENCE_INVALID` (400), others their `statusCode`.
 */
export interface AlertsService {
  alerts(filter?: AlertFilter): AlertMessage[];
  /** One alert with its history (newest first). */
  get(id: string): (AlertMessage & { history: HistoryView[] }) | undefined;
  /** Acknowledges a pending or firing alert: no more re-notifications this episode. */
  ack(id: string, by: string, comment?: string): AlertMessage;
  silences(filter?: { status?: SilenceWithStatus['status'] | 'all' }): SilenceWithStatus[];
  addSilence(input: SilenceInput): SilenceWithStatus;
  /** Ends a silence now. */
  expireSilence(id: string, by: string): SilenceWithStatus;
}
