/**
 * The router: which notifier targets hear about an alert, and what. Every enabled rule's alerts go
 * to MQTT; critical depletion alerts (or `escalate: true`) also to the regional topic; each rule's
 * webhooks. Firing alerts held by a silence are not sent; whoever heard an alert fire always hears
 * it end. Housekeeping re-routes to send what is due (re-notifications, retries, ended silences).
 */
import { toMessage } from './alert.ts';
import type { StageContext } from './context.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { AlertRecord } from './lifecycle.ts';
import type { RuleSet } from './loader.ts';
import { createMqttNotifier, REGIONAL_PREFIX, regionalTopic } from './notifiers/mqtt/index.ts';
import type { Notifier, NotifyEvent, PublishFn } from './notifiers/types.ts';
import { createWebhookNotifier } from './notifiers/webhook/index.ts';
import type { AlertMessage } from '../core/alert.ts';
import type { CompiledRules } from './ruleset.ts';
import type { Silencer } from './silencer.ts';

export interface RouterOptions {
  ctx: StageContext;
  rules: () => CompiledRules;
  silencer: Silencer;
  dispatcher: Dispatcher;
  /** MQTT publish; without it, no MQTT or regional delivery. */
  publish?: PublishFn | undefined;
  /** Prefix of escalated alerts (default `regional/v1`); `false` turns escalation off. */
  regionalPrefix?: string | false | undefined;
  /** Webhook transport (tests). */
  fetch?: typeof fetch | undefined;
}

export class Router {
  readonly #o: RouterOptions;
  #notifiers = new Map<string, Notifier>();

  constructor(o: RouterOptions) {
    this.#o = o;
  }

  /** Builds the notifiers of a rule set: MQTT and the regional escalation share `publish`; one per webhook. */
  configure(set: RuleSet): void {
    const o = this.#o;
    const notifiers = new Map<string, Notifier>();
    if (o.publish) {
      notifiers.set('mqtt', createMqttNotifier({ publish: o.publish }));
      const prefix = o.regionalPrefix ?? REGIONAL_PREFIX;
      if (prefix !== false) notifiers.set('regional', createMqttNotifier({ publish: o.publish, name: 'regional', topic: (h, r, s) => regionalTopic(h, r, s, prefix) }));
    }
    for (const w of set.webhooks.values()) {
      const deps: { fetch?: typeof fetch } = {};
      if (o.fetch) deps.fetch = o.fetch;
      notifiers.set(`webhook:${w.name}`, createWebhookNotifier(w, deps));
    }
    this.#notifiers = notifiers;
  }

  /** The delivery targets of an alert: MQTT, the regional escalation, the rule's webhooks. */
  targets(a: AlertRecord): Notifier[] {
    const c = this.#o.rules().get(a.rule);
    const names = new Set<string>();
    if (c && c.rule.enabled) {
      names.add('mqtt');
      if (c.rule.escalate ?? (c.rule.kind === 'depletion' && c.rule.severity === 'critical')) names.add('regional');
      for (const w of c.rule.webhooks) names.add(`webhook:${w}`);
    }
    // Whoever was told it fires must hear that it ended, even if the route changed since.
    for (const [t, d] of Object.entries(a.delivery)) if (d.state === 'firing') names.add(t);
    return [...names].map((n) => this.#notifiers.get(n)).filter((n): n is Notifier => n !== undefined);
  }

  /**
   * Decides what each target should hear about `a` now and queues it. `transition`: called on a
   * state change (queued behind anything in flight); otherwise housekeeping (skips busy targets).
   */
  route(a: AlertRecord, now: number, transition: boolean): void {
    const { dispatcher, silencer } = this.#o;
    const metrics = this.#o.ctx.metrics;
    const c = this.#o.rules().get(a.rule);
    const silencedBy = silencer.silencedBy(a, now);
    const message = toMessage(a, { forMs: c?.rule.for ?? 0, silencedBy });
    for (const n of this.targets(a)) {
      const busy = dispatcher.busy(a.id, n.name);
      if (busy && !transition) continue;
      const d = a.delivery[n.name];
      let event: NotifyEvent | undefined;
      if (a.state === 'firing') {
        if (silencedBy.length) {
          if (transition) metrics?.notifications.inc({ target: n.name, outcome: 'silenced' });
          continue;
        }
        const renotify = c?.rule.renotify ?? 0;
        if (!d || d.episode !== a.episode || d.state !== 'firing') event = 'firing';
        else if (!transition && !a.ack && renotify > 0 && now - d.at >= renotify) event = 'renotify';
      } else if (a.state === 'resolved' || a.state === 'inactive') {
        if (d?.state === 'firing' || (transition && busy)) event = 'resolved';
      }
      if (event) dispatcher.send(n, { event, alert: message });
    }
  }

  /** Tells the targets that hold `a` firing about its acknowledgement (the retained state shows who is on it; webhooks ignore `update`). */
  update(a: AlertRecord, msg: AlertMessage): void {
    for (const n of this.targets(a)) {
      const d = a.delivery[n.name];
      if (d?.state === 'firing' && d.episode === a.episode) this.#o.dispatcher.send(n, { event: 'update', alert: msg });
    }
  }
}
