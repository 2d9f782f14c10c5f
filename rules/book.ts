/**
 * The alert book: one alert per rule and subject, moved through its lifecycle (lifecycle.ts
 * `step`), each transition kept in history and rules.db (state.ts) and written to the alert sink.
 * Records what each notifier target was last told (delivery state), and acknowledgements.
 */
import { type AlertEvent, type AlertSink, toMessage } from './alert.ts';
import type { StageContext } from './context.ts';
import { RulesError } from './errors.ts';
import type { Observation } from './kinds/types.ts';
import { type AlertIdentity, type AlertRecord, type AlertState, alertId, isActive, messageOf, step } from './lifecycle.ts';
import type { Notification } from './notifiers/types.ts';
import type { Compiled, CompiledRules, Subject } from './ruleset.ts';
import type { HistoryEntry } from './state.ts';

export interface AlertBookOptions {
  ctx: StageContext;
  rules: () => CompiledRules;
  sink?: AlertSink | undefined;
  /** Called after every state change, to notify (the router). */
  changed(a: AlertRecord, now: number): void;
}

export class AlertBook {
  readonly #o: AlertBookOptions;
  readonly #alerts = new Map<string, AlertRecord>();
  /** Changed since the last save (an observation that moved only numbers, or a failed save). */
  readonly #dirty = new Set<string>();
  readonly #sinkWrites = new Set<Promise<void>>();

  constructor(o: AlertBookOptions) {
    this.#o = o;
  }

  load(alerts: readonly AlertRecord[]): void {
    for (const a of alerts) this.#alerts.set(a.id, a);
  }

  get(id: string): AlertRecord | undefined {
    return this.#alerts.get(id);
  }

  values(): AlertRecord[] {
    return [...this.#alerts.values()];
  }

  /** The rule's for-duration (0 when the rule is gone). */
  forMs(a: AlertRecord): number {
    return this.#o.rules().get(a.rule)?.rule.for ?? 0;
  }

  /** Is the alert of `c` on subject `s` pending or firing? */
  active(c: Compiled, s: Subject): boolean {
    return isActive(this.#alerts.get(alertId(s.hub, c.rule.id, s.subject))?.state);
  }

  /** Applies an observation of `c` on subject `s` to its alert. */
  observe(c: Compiled, s: Subject, obs: Observation, now: number): void {
    const id = alertId(s.hub, c.rule.id, s.subject);
    const prev = this.#alerts.get(id);
    const who: AlertIdentity = { hub: s.hub, rule: c.rule.id, subject: s.subject, scope: c.scope, kind: c.rule.kind, severity: c.rule.severity, labels: c.rule.labels };
    if (c.rule.title) who.title = c.rule.title;
    const st = step(prev, obs, who, c.rule.for, now, c.rule.renotify);
    if (!st.to) {
      // Keep the numbers of an active alert current; leave a resolved one as it was when it ended.
      if (isActive(st.next.state)) {
        this.#alerts.set(id, st.next);
        this.#dirty.add(id);
      }
      return;
    }
    this.#alerts.set(id, st.next);
    this.#transition(st.next, st.from, st.to, now, 'transition');
  }

  /** Ends the active alerts of rules that are gone or disabled (their retained topics are cleared). */
  endRemoved(now: number): void {
    const rules = this.#o.rules();
    for (const a of [...this.#alerts.values()]) {
      const c = rules.get(a.rule);
      if (!isActive(a.state) || (c && c.rule.enabled)) continue;
      const to: AlertState = a.state === 'firing' ? 'resolved' : 'inactive';
      const next: AlertRecord = { ...a, state: to, updatedAt: now, summary: `Rule "${a.rule}" was removed or disabled; ${a.summary.charAt(0).toLowerCase()}${a.summary.slice(1)}` };
      if (to === 'resolved') next.resolvedAt = a.observedAt;
      this.#alerts.set(a.id, next);
      this.#transition(next, a.state, to, now, 'rule_removed');
    }
  }

  #transition(next: AlertRecord, from: AlertState, to: AlertState, now: number, event: 'transition' | 'rule_removed'): void {
    const { log, metrics } = this.#o.ctx;
    const forMs = this.#o.rules().get(next.rule)?.rule.for;
    const message = messageOf(next, forMs);
    const h: HistoryEntry = { alertId: next.id, at: now, ts: next.observedAt, event, from, to, episode: next.episode, message, by: null };
    try {
      this.#o.ctx.state?.save([next], [h]);
      this.#dirty.delete(next.id);
    } catch (err) {
      log.error({ err, alert: next.id }, 'cannot save alert state');
      this.#dirty.add(next.id);
    }
    metrics?.transitions.inc({ rule: next.rule, to });
    const level = to === 'firing' ? 'warn' : 'info';
    log[level]({ alert: next.id, from, to, severity: next.severity }, message);
    this.emit({ at: now, event: 'transition', from, to, alert: toMessage(next, { forMs: forMs ?? 0 }) });
    this.#o.changed(next, now);
  }

  /** Acknowledges a pending or firing alert (kept in history). Throws RulesError. */
  acknowledge(id: string, by: string, comment: string | undefined, now: number): { prev: AlertRecord; next: AlertRecord } {
    const a = this.#alerts.get(id);
    if (!a) throw new RulesError('RULES_ERR_NOT_FOUND', `no alert "${id}"`);
    if (!isActive(a.state)) throw new RulesError('RULES_ERR_NOT_ACKABLE', `alert "${id}" is ${a.state}; only pending or firing alerts can be acknowledged`);
    const next: AlertRecord = { ...a, ack: comment ? { by, at: now, comment } : { by, at: now }, updatedAt: now };
    this.#alerts.set(id, next);
    const h: HistoryEntry = { alertId: id, at: now, ts: null, event: 'ack', from: a.state, to: a.state, episode: a.episode, message: `acknowledged by ${by}${comment ? `: ${comment}` : ''}`, by };
    this.#o.ctx.state?.save([next], [h]);
    this.#dirty.delete(id);
    this.#o.ctx.log.info({ alert: id, by }, 'alert acknowledged');
    return { prev: a, next };
  }

  /** A notification ended: remembers what the target now knows (not for failures or updates). */
  delivered(id: string, target: string, n: Notification, failed: boolean): void {
    if (failed || n.event === 'update') return;
    const a = this.#alerts.get(id);
    if (!a) return;
    a.delivery = { ...a.delivery, [target]: { state: n.event === 'resolved' ? 'resolved' : 'firing', episode: n.alert.episode, at: this.#o.ctx.clock.now() } };
    try {
      this.#o.ctx.state?.save([a]);
    } catch (err) {
      this.#o.ctx.log.error({ err, alert: id }, 'cannot save delivery state');
      this.#dirty.add(id);
    }
  }

  /** Writes an event to the alert sink (best effort, errors logged). */
  emit(e: AlertEvent): void {
    const sink = this.#o.sink;
    if (!sink) return;
    const p = sink
      .write([e])
      .catch((err: unknown) => this.#o.ctx.log.warn({ err, alert: e.alert.id }, 'alert sink write failed'))
      .finally(() => this.#sinkWrites.delete(p));
    this.#sinkWrites.add(p);
  }

  /** Saves the alerts changed since the last save (throws on a database error). */
  save(): void {
    const state = this.#o.ctx.state;
    if (!state) return;
    const dirty = [...this.#dirty].map((id) => this.#alerts.get(id)).filter((a): a is AlertRecord => a !== undefined);
    if (dirty.length) state.save(dirty);
    this.#dirty.clear();
  }

  /** Resolves when every sink write in progress has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#sinkWrites]);
  }
}
