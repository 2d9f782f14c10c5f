/**
 * Silences: matchers on rule, hub, subject and severity, with who, why and until when. A silenced
 * alert still changes state and is kept in history; it is just not notified. `*` inside a matcher
 * value matches any characters (`aquifer-*`).
 */
import type { AlertRecord } from './lifecycle.ts';
import type { Silence, SilenceMatchers } from './state.ts';

function glob(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

/** Does every given matcher match the alert? */
export function matches(m: SilenceMatchers, a: Pick<AlertRecord, 'rule' | 'hub' | 'subject' | 'severity'>): boolean {
  return (
    (m.rule === undefined || glob(m.rule, a.rule)) &&
    (m.hub === undefined || glob(m.hub, a.hub)) &&
    (m.subject === undefined || glob(m.subject, a.subject)) &&
    (m.severity === undefined || m.severity === a.severity)
  );
}

/** Is the silence in force at `now` (wall clock)? */
export function isActiveSilence(s: Silence, now: number): boolean {
  return s.expiredAt === undefined && s.startsAt <= now && now < s.endsAt;
}

/** The active silences that silence `a` at `now`. */
export function silencing(silences: Iterable<Silence>, a: Pick<AlertRecord, 'rule' | 'hub' | 'subject' | 'severity'>, now: number): Silence[] {
  const out: Silence[] = [];
  for (const s of silences) if (isActiveSilence(s, now) && matches(s.matchers, a)) out.push(s);
  return out;
}
