import { describe, expect, it } from 'vitest';
import { createMetrics } from '../telemetry/metrics.ts';
import { expectNoPersonalData } from '../tests/harness/privacy.ts';
import { createPrivacyBoundary } from './boundary.ts';
import { type CompiledPolicy, type PolicySource, fixedPolicy } from '../privacy/index.ts';
import { defaultPolicy, policyFromYaml, reading } from '../privacy/testing.ts';

const MIN = 60_000;
const T0 = Date.UTC(2025, 4, 1, 12, 0);
const NEXT_DAY = Date.UTC(2025, 4, 2);

async function actionCounts(m: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const v = await m.privacyActions.get();
  return Object.fromEntries(v.values.map((x) => [String(x.labels.action), x.value]));
}

describe('privacy boundary', () => {
  it('filters readings, aggregates households, and counts every action in steward_privacy_actions_total', async () => {
    const metrics = createMetrics();
    const clock = { t: T0, now: () => clock.t };
    const b = createPrivacyBoundary({ policy: fixedPolicy(defaultPolicy()), metrics, clock, noiseUniform: () => 0.5 });
    expect(b.version).toBe('default-3');
    const personal = ['Alice Smith', 'alice@example.org'];
    const out = b.apply(reading({ domain: 'biodiversity', metrics: { count: 1 }, species: 'Ophrys apifera', location: { lat: 51.50735, lon: -0.12776 }, attributes: { observer_name: personal[0]!, observer_email: personal[1]! } }));
    expect(out?.location).toEqual({ lat: 51.5, lon: -0.1 });
    expectNoPersonalData(out, [...personal, '51.507', '-0.127']);

    const ids = Array.from({ length: 15 }, (_, i) => `H-${100 + i}`);
    for (const id of ids) expect(b.apply(reading({ domain: 'energy', sensor: `meter-${id.toLowerCase()}`, kind: 'meter', ts: T0 + MIN, metrics: { household_power: 400 }, attributes: { household_id: id, area: 'Riverside' } }))).toBeUndefined();
    expect(b.drain()).toEqual([]);
    clock.t = NEXT_DAY + 11 * MIN; // daily windows (default policy), 10 min of grace
    const agg = b.drain();
    expect(agg).toMatchObject([{ sensor: 'area-riverside', metrics: { demand_power: 6000 }, policy: 'default-3' }]);
    expectNoPersonalData(agg, ids);
    b.ack(agg);
    expect(b.drain()).toEqual([]);

    expect(await actionCounts(metrics)).toMatchObject({ dropped: 2, generalised: 1, aggregated: 15, emitted: 1 });
    expect(b.stats()).toMatchObject({ emitted: 1, pending: 0 });
    b.stop();
    b.stop();
    expect(() => b.apply(reading())).toThrow(expect.objectContaining({ code: 'PRIVACY_ERR_STATE' }));
  });

  it('follows the policy source: records carry the version in force when they were filtered', () => {
    let current: CompiledPolicy = defaultPolicy();
    const source: PolicySource = { current: () => current };
    const clock = { t: T0, now: () => clock.t };
    const b = createPrivacyBoundary({ policy: source, clock });
    for (let i = 0; i < 15; i++) b.apply(reading({ domain: 'energy', ts: T0 + MIN, metrics: { household_power: 100 }, attributes: { household_id: `H-${i}`, area: 'north' } }));
    expect(b.apply(reading())?.policy).toBe('default-3');
    // A new policy without households rules: open groups are still decided under the old rules.
    current = policyFromYaml('version: v-next\nmetrics: { household_power: drop }');
    expect(b.version).toBe('v-next');
    expect(b.apply(reading())?.policy).toBe('v-next');
    clock.t = NEXT_DAY + 11 * MIN;
    expect(b.drain()).toMatchObject([{ sensor: 'area-north', policy: 'v-next' }]);
    b.stop();
  });

  it('learns observer names: a later note about them, in another reading, loses them; removals are counted by kind', async () => {
    const metrics = createMetrics();
    const notes = policyFromYaml('version: notes-1\nattributes: { note: scrub }\npersonal: { kinds: [citizen-observation] }');
    const b = createPrivacyBoundary({ policy: fixedPolicy(notes), metrics });
    b.apply(reading({ domain: 'biodiversity', kind: 'citizen-observation', metrics: { count: 1 }, species: 'Turdus merula', attributes: { observer_name: 'Zoë Kowalczyk' } }));
    const out = b.apply(reading({ domain: 'biodiversity', sensor: 'mic-1', kind: 'acoustic', metrics: { count: 1 }, species: 'Turdus merula', attributes: { note: 'garden of zoe\u0308 kowalczyk, 12 Mill Lane' } }));
    expect(out?.attributes).toEqual({ note: 'garden of [name removed], [address removed]' });
    expect(b.knownNames()).toEqual(['Zoë Kowalczyk']);
    const byKind = Object.fromEntries((await metrics.privacyScrubbed.get()).values.map((v) => [v.labels.kind, v.value]));
    expect(byKind).toEqual({ name: 1, address: 1 });
    b.stop();
  });
});
