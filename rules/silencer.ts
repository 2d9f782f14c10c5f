/**
 * The silencer: the silences in force, kept in rules.db. Says which silences hold an alert back
 * (matching in silence.ts), adds silences (noting in each silenced alert's history) and ends them.
 * A silenced alert still changes state; the router just does not notify it.
 */
import type { SilenceInput, SilenceWithStatus } from '../core/alert.ts';
import type { StageContext } from './context.ts';
import { RulesError } from './errors.ts';
import { type AlertRecord, isActive } from './lifecycle.ts';
import { isActiveSilence, silencing } from './silence.ts';
import type { Silence, SilenceMatchers } from './state.ts';

const DAY = 86_400_000;

/** A silence with its current status. */
export type SilenceView = SilenceWithStatus;
export type { SilenceInput } from '../core/alert.ts';

export class Silencer {
  readonly #ctx: StageContext;
  readonly #silences = new Map<string, Silence>();

  constructor(ctx: StageContext) {
    this.#ctx = ctx;
  }

  load(silences: readonly Silence[]): void {
    for (const s of silences) this.#silences.set(s.id, s);
  }

  /** Ids of the silences holding `a` back at `now`. */
  silencedBy(a: AlertRecord, now: number): string[] {
    return silencing(this.#silences.values(), a, now).map((s) => s.id);
  }

  list(filter: { status?: SilenceView['status'] | 'all' }, now: number): SilenceView[] {
    return [...this.#silences.values()]
      .map((s) => view(s, now))
      .filter((s) => !filter.status || filter.status === 'all' || s.status === filter.status)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Adds a silence; `alerts` get a history entry if it silences them. Throws RulesError RULES_ERR_SILENCE_INVALID. */
  add(input: SilenceInput, alerts: readonly AlertRecord[], now: number): SilenceView {
    const m = input.matchers ?? {};
    const matchers: SilenceMatchers = {};
    for (const k of ['rule', 'hub', 'subject', 'severity'] as const) {
      const v = m[k];
      if (v !== undefined && v !== '') (matchers as Record<string, string>)[k] = v;
    }
    if (!Object.keys(matchers).length) throw new RulesError('RULES_ERR_SILENCE_INVALID', 'a silence needs at least one matcher (rule, hub, subject or severity)');
    if (!input.comment?.trim()) throw new RulesError('RULES_ERR_SILENCE_INVALID', 'a silence needs a comment saying why');
    const startsAt = input.startsAt ?? now;
    const endsAt = input.endsAt ?? startsAt + (input.durationMs ?? 0);
    if (!(endsAt > now) || !(endsAt > startsAt)) throw new RulesError('RULES_ERR_SILENCE_INVALID', 'a silence must end in the future, after it starts');
    const s: Silence = { id: crypto.randomUUID(), matchers, createdBy: input.createdBy, comment: input.comment.trim(), startsAt, endsAt, createdAt: now };
    this.#silences.set(s.id, s);
    this.#ctx.state?.save(
      [],
      alerts
        .filter((a) => isActive(a.state) && silencing([s], a, Math.max(now, startsAt)).length)
        .map((a) => ({ alertId: a.id, at: now, ts: null, event: 'silenced' as const, from: a.state, to: a.state, episode: a.episode, message: `silenced by ${s.createdBy} until ${new Date(s.endsAt).toISOString()}: ${s.comment}`, by: s.createdBy })),
    );
    this.#ctx.state?.saveSilence(s);
    this.#ctx.log.info({ silence: s.id, matchers, by: s.createdBy, until: new Date(s.endsAt).toISOString() }, 'silence added');
    return view(s, now);
  }

  /** Ends a silence now (kept as expired). Throws RulesError RULES_ERR_NOT_FOUND. */
  expire(id: string, by: string, now: number): SilenceView {
    const s = this.#silences.get(id);
    if (!s) throw new RulesError('RULES_ERR_NOT_FOUND', `no silence "${id}"`);
    const next: Silence = s.expiredAt === undefined ? { ...s, expiredAt: now, expiredBy: by, endsAt: Math.min(s.endsAt, now) } : s;
    this.#silences.set(id, next);
    this.#ctx.state?.saveSilence(next);
    this.#ctx.log.info({ silence: id, by }, 'silence expired');
    // Alerts it held back are notified by the next housekeeping run.
    return view(next, now);
  }

  /** Forgets silences that ended more than 30 days ago. */
  prune(now: number): void {
    for (const [id, s] of this.#silences) if (s.endsAt < now - 30 * DAY) this.#silences.delete(id);
  }
}

function view(s: Silence, now: number): SilenceView {
  const status: SilenceView['status'] = isActiveSilence(s, now) ? 'active' : s.expiredAt === undefined && now < s.startsAt ? 'pending' : 'expired';
  return { ...s, status };
}
