import { describe, expect, it } from 'vitest';
import { Silencer } from './silencer.ts';
import { alertRecord, HOUR, stageContext, T0 } from './testing.ts';

describe('silencer', () => {
  it('refuses a silence without a matcher, without a comment, or ending in the past', () => {
    const s = new Silencer(stageContext());
    expect(() => s.add({ matchers: {}, createdBy: 'ana', comment: 'x', durationMs: HOUR }, [], T0)).toThrow(/at least one matcher/);
    expect(() => s.add({ matchers: { rule: 'a' }, createdBy: 'ana', comment: ' ', durationMs: HOUR }, [], T0)).toThrow(/comment/);
    expect(() => s.add({ matchers: { rule: 'a' }, createdBy: 'ana', comment: 'x', endsAt: T0 - 1 }, [], T0)).toThrow(/end in the future/);
  });

  it('holds back matching alerts while active (globs in values), is pending before it starts, expired after', () => {
    const s = new Silencer(stageContext());
    const v = s.add({ matchers: { rule: 'battery-*', subject: '' }, createdBy: 'ana', comment: ' maintenance ', startsAt: T0 + HOUR, durationMs: HOUR }, [], T0);
    expect(v).toMatchObject({ status: 'pending', comment: 'maintenance', matchers: { rule: 'battery-*' } });
    expect(s.silencedBy(alertRecord('battery-low'), T0)).toEqual([]);
    expect(s.silencedBy(alertRecord('battery-low'), T0 + HOUR)).toEqual([v.id]);
    expect(s.silencedBy(alertRecord('aquifer'), T0 + HOUR)).toEqual([]);
    expect(s.list({ status: 'active' }, T0 + HOUR).map((x) => x.id)).toEqual([v.id]);
    expect(s.expire(v.id, 'bo', T0 + HOUR + 1)).toMatchObject({ status: 'expired', expiredBy: 'bo', endsAt: T0 + HOUR + 1 });
    expect(s.silencedBy(alertRecord('battery-low'), T0 + HOUR + 2)).toEqual([]);
    expect(() => s.expire('nope', 'bo', T0)).toThrow(/no silence/);
    s.prune(T0 + 31 * 24 * HOUR + HOUR);
    expect(s.list({ status: 'all' }, T0)).toEqual([]);
  });
});
