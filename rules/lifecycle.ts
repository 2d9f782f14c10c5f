/**
 * The alert lifecycle, as in Prometheus Alertmanager: inactive → pending (the condition holds but
 * not yet for the rule's `for`) → firing → resolved. One alert per rule and subject (dedup); the
 * id `{hub}.{rule}.{subject}` is stable across episodes, and each new pending/firing period starts
 * a new episode (which clears the acknowledgement). Pure functions: no I/O, no clock.
 */
import type { Observation, Scope } from './kinds/types.ts';
import type { AlertState, Severity } from '../core/alert.ts';
import { humanDuration } from '../core/duration.ts';
import { utcMinute } from './message.ts';

export { ALERT_STATES, type AlertState } from '../core/alert.ts';

/** A delivery target's last delivered state (per alert). */
export interface Delivery {
  state: 'firing' | 'resolved';
  episode: number;
  /** Wall clock, epoch ms. */
  at: number;
}

/** Who acknowledged an alert. */
export interface Ack {
  by: string;
  /** Wall clock, epoch ms. */
  at: number;
  comment?: string;
}

/** What an alert is, besides its state. */
export interface AlertIdentity {
  hub: string;
  rule: string;
  subject: string;
  scope: Scope;
  kind: string;
  severity: Severity;
  title?: string;
  labels: Record<string, string>;
}

/** An alert as the engine keeps and persists it (its identity, state and numbers). Times are epoch ms. */
export interface AlertRecord extends AlertIdentity {
  id: string;
  state: AlertState;
  episode: number;
  /** When the condition began to hold (sensor time; wall clock for deadman). */
  activeAt: number | null;
  /** When it fired (sensor time; wall clock for deadman). */
  firedAt: number | null;
  /** When it resolved (sensor time; wall clock for deadman). */
  resolvedAt: number | null;
  /** Time of the latest observation. */
  observedAt: number;
  /** Wall clock of the last change. */
  updatedAt: number;
  /** Plain words from the kind, without "since". */
  summary: string;
  value: number | null;
  unit: string | null;
  facts: Record<string, number | string>;
  ack: Ack | null;
  /** Per delivery target (`mqtt`, `regional`, `webhook:<name>`). */
  delivery: Record<string, Delivery>;
}

/** The alert id: `{hub}.{rule}.{subject}` (ids never contain dots, so it is unambiguous). */
export function alertId(hub: string, rule: string, subject: string): string {
  return `${hub}.${rule}.${subject}`;
}

export function isActive(s: AlertState | undefined): boolean {
  return s === 'pending' || s === 'firing';
}

export interface Step {
  next: AlertRecord;
  from: AlertState;
  /** Set when the state changed. */
  to?: AlertState;
}

/**
 * Applies one observation to an alert. `forMs` is the rule's for-duration, compared on the
 * observation's own time base (sensor time for stream and windowed kinds). `reopenMs` (the rule's
 * re-notification interval): an alert that fires again less than this after it resolved reopens
 * its episode (same episode number, acknowledgement kept, firing at once) instead of starting a
 * new one, so a steward's acknowledgement is not lost to a quick resolve and refire.
 */
export function step(prev: AlertRecord | undefined, obs: Observation, who: AlertIdentity, forMs: number, now: number, reopenMs = 0): Step {
  const from: AlertState = prev?.state ?? 'inactive';
  const base: AlertRecord = prev
    ? { ...prev, severity: who.severity, labels: who.labels, kind: who.kind, scope: who.scope }
    : {
        id: alertId(who.hub, who.rule, who.subject),
        hub: who.hub,
        rule: who.rule,
        subject: who.subject,
        scope: who.scope,
        kind: who.kind,
        severity: who.severity,
        state: 'inactive',
        episode: 0,
        activeAt: null,
        firedAt: null,
        resolvedAt: null,
        observedAt: obs.ts,
        updatedAt: now,
        summary: obs.summary,
        value: null,
        unit: null,
        facts: {},
        labels: who.labels,
        ack: null,
        delivery: {},
      };
  if (who.title) base.title = who.title;
  else delete base.title;
  const next: AlertRecord = { ...base, summary: obs.summary, value: obs.value ?? null, unit: obs.unit ?? null, facts: obs.facts, observedAt: Math.max(base.observedAt, obs.ts) };
  let to: AlertState | undefined;
  if (obs.active) {
    if (from === 'resolved' && reopenMs > 0 && base.resolvedAt !== null && obs.ts - base.resolvedAt < reopenMs) {
      to = 'firing';
      next.resolvedAt = null;
    } else if (from === 'inactive' || from === 'resolved') {
      next.episode = base.episode + 1;
      next.activeAt = obs.ts;
      next.firedAt = null;
      next.resolvedAt = null;
      next.ack = null;
      to = forMs > 0 ? 'pending' : 'firing';
      if (to === 'firing') next.firedAt = obs.ts;
    } else if (from === 'pending' && obs.ts - (base.activeAt ?? obs.ts) >= forMs) {
      to = 'firing';
      next.firedAt = obs.ts;
    }
  } else if (from === 'pending') {
    to = 'inactive';
  } else if (from === 'firing') {
    to = 'resolved';
    next.resolvedAt = obs.ts;
  }
  if (to) {
    next.state = to;
    next.updatedAt = now;
  }
  return to ? { next, from, to } : { next, from };
}

/** The alert in plain words, with "since" (e.g. `…; observed since 2026-11-25 10:00 UTC`). */
export function messageOf(a: Pick<AlertRecord, 'state' | 'summary' | 'activeAt' | 'resolvedAt'>, forMs = 0): string {
  const since = a.activeAt === null ? '' : utcMinute(a.activeAt);
  switch (a.state) {
    case 'firing':
      return since ? `${a.summary}; observed since ${since}` : a.summary;
    case 'pending':
      return `${a.summary}; pending since ${since}${forMs ? ` (fires if it lasts ${humanDuration(forMs)})` : ''}`;
    case 'resolved':
      return `Resolved: ${a.summary}${since ? `; the alert had been active since ${since}` : ''}${a.resolvedAt !== null ? `, until ${utcMinute(a.resolvedAt)}` : ''}`;
    default:
      return a.summary;
  }
}
