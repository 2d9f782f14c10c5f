/**
 * The alerts service: what the API (and the console) ask of the rules. Lists alerts, one alert with
 * its history, acknowledgements, and silences (list, add, expire). It reads the alert book and the
 * silencer and, for an acknowledgement, tells the router.
 */
import type { AlertFilter } from '../core/alert.ts';
import { type AlertMessage, toMessage } from './alert.ts';
import type { AlertBook } from './book.ts';
import type { StageContext } from './context.ts';
import type { AlertRecord, AlertState } from './lifecycle.ts';
import type { Router } from './router.ts';
import type { SilenceInput, Silencer, SilenceView } from './silencer.ts';
import type { Severity } from './spec.ts';

export type { AlertFilter } from '../core/alert.ts';

export type { HistoryView } from '../core/alert.ts';
import type { HistoryView } from '../core/alert.ts';

const RANK: Record<AlertState, number> = { firing: 0, pending: 1, resolved: 2, inactive: 3 };
const SEVERITY: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class AlertsService {
  readonly #ctx: StageContext;
  readonly #book: AlertBook;
  readonly #silencer: Silencer;
  readonly #router: Router;

  constructor(o: { ctx: StageContext; book: AlertBook; silencer: Silencer; router: Router }) {
    this.#ctx = o.ctx;
    this.#book = o.book;
    this.#silencer = o.silencer;
    this.#router = o.router;
  }

  alerts(filter: AlertFilter = {}): AlertMessage[] {
    const states = filter.state === undefined ? null : new Set(typeof filter.state === 'string' ? [filter.state] : filter.state);
    const hubs = filter.hub === undefined ? null : new Set(typeof filter.hub === 'string' ? [filter.hub] : filter.hub);
    const now = this.#ctx.clock.now();
    return this.#book
      .values()
      .filter(
        (a) =>
          (states ? states.has(a.state) : a.state !== 'inactive') &&
          (!hubs || hubs.has(a.hub)) &&
          (!filter.severity || a.severity === filter.severity) &&
          (!filter.rule || a.rule === filter.rule) &&
          (!filter.subject || a.subject === filter.subject),
      )
      .sort((x, y) => RANK[x.state] - RANK[y.state] || SEVERITY[x.severity] - SEVERITY[y.severity] || y.updatedAt - x.updatedAt || x.id.localeCompare(y.id))
      .slice(0, filter.limit ?? 500) // default 500
      .map((a) => this.#message(a, now));
  }

  /** One alert with its history (newest first). */
  get(id: string): (AlertMessage & { history: HistoryView[] }) | undefined {
    const a = this.#book.get(id);
    if (!a) return undefined;
    const history = (this.#ctx.state?.history(id) ?? []).map((h) => ({ at: new Date(h.at).toISOString(), ts: iso(h.ts), event: h.event, from: h.from, to: h.to, episode: h.episode, message: h.message, by: h.by }));
    return { ...this.#message(a, this.#ctx.clock.now()), history };
  }

  /** Acknowledges a pending or firing alert: no more re-notifications this episode. Throws RulesError. */
  ack(id: string, by: string, comment?: string): AlertMessage {
    const now = this.#ctx.clock.now();
    const { prev, next } = this.#book.acknowledge(id, by, comment, now);
    const msg = this.#message(next, now);
    this.#book.emit({ at: now, event: 'ack', from: prev.state, to: prev.state, alert: msg });
    this.#router.update(next, msg);
    return msg;
  }

  silences(filter: { status?: SilenceView['status'] | 'all' } = {}): SilenceView[] {
    return this.#silencer.list(filter, this.#ctx.clock.now());
  }

  /** Throws RulesError RULES_ERR_SILENCE_INVALID. */
  addSilence(input: SilenceInput): SilenceView {
    return this.#silencer.add(input, this.#book.values(), this.#ctx.clock.now());
  }

  /** Ends a silence now. Throws RulesError RULES_ERR_NOT_FOUND. */
  expireSilence(id: string, by: string): SilenceView {
    return this.#silencer.expire(id, by, this.#ctx.clock.now());
  }

  #message(a: AlertRecord, now: number): AlertMessage {
    return toMessage(a, { forMs: this.#book.forMs(a), silencedBy: this.#silencer.silencedBy(a, now) });
  }
}
