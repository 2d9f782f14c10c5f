import { describe, expect, it } from 'vitest';
import type { Member } from './kinds/types.ts';
import { matchesMember, subjectFor } from './ruleset.ts';
import { batteryRule, compileRules, ruleFile } from './testing.ts';

const member = (sensor: string, site = sensor, hub = 'demo'): Member => ({ hub, sensor, site, domain: 'energy' });

describe('compiled rule set', () => {
  it('indexes enabled rules: stream and windowed by metric, deadman and diversity apart; disabled ones only listed', () => {
    const rules = compileRules(`
rules:
  - { id: battery-low, kind: threshold, select: { metric: battery_soc }, below: 20 }
  - { id: battery-fall, kind: rate, select: { metric: battery_soc }, window: 1d, below: -10 }
  - { id: silent, kind: deadman, after: 1h }
  - { id: off, kind: threshold, select: { metric: battery_soc }, above: 99, enabled: false }
`);
    expect(rules.byMetric.get('battery_soc')?.map((c) => c.rule.id)).toEqual(['battery-low', 'battery-fall']);
    expect(rules.deadman.map((c) => c.rule.id)).toEqual(['silent']);
    expect(rules.diversity).toEqual([]);
    expect(rules.diversitySpan()).toBe(0);
    expect(rules.info().map((r) => [r.id, r.mode, r.enabled, r.schedule])).toEqual([
      ['battery-low', 'stream', true, undefined],
      ['battery-fall', 'window', true, '* * * * *'],
      ['silent', 'deadman', true, '* * * * *'],
      ['off', 'stream', false, undefined],
    ]);
  });

  it('subjects: one per sensor, or per site or hub when the rule aggregates; selectors filter members', () => {
    const rules = compileRules(`${batteryRule()}  - { id: site-low, kind: threshold, select: { hub: demo, metric: battery_soc, site: [s1] }, below: 20, aggregate: { by: site } }
`);
    const perSensor = rules.get('battery-low')!;
    const perSite = rules.get('site-low')!;
    expect(subjectFor(perSensor, member('b1', 's1')).subject).toBe('b1');
    const s = subjectFor(perSite, member('b1', 's1'));
    subjectFor(perSite, member('b2', 's1'));
    expect(s.subject).toBe('s1');
    expect([...s.members.keys()]).toEqual(['demo/b1', 'demo/b2']);
    expect(matchesMember(perSite, member('b3', 's2'))).toBe(false);
    expect(matchesMember(perSensor, member('b3', 's2', 'other'))).toBe(false);
  });

  it('ruleFile writes one rule a line per field', () => {
    expect(ruleFile('x', 'deadman', { after: '1h' })).toBe('\nrules:\n  - id: x\n    kind: deadman\n    after: 1h\n');
  });
});
