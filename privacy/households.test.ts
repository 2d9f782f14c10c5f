import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredReading } from '../storage/types.ts';
import { expectNoPersonalData } from '../tests/harness/privacy.ts';
import type { PrivacyAction } from './errors.ts';
import { HOUSEHOLDS_DB, HouseholdAggregator, decideGroup } from './households.ts';
import type { HouseholdRules } from './policy.ts';

const MIN = 60_000;
const W = 15 * MIN;
const T0 = Date.UTC(2025, 4, 1, 12, 0); // a window start
const rules: HouseholdRules = {
  metric: 'household_power',
  windowMs: W,
  minHouseholds: 15,
  maxShare: 0.15,
  epsilonPerDay: 1,
  epsilonPerWindow: W / 86_400_000,
  maxLoadW: 10_000,
  graceMs: MIN,
  horizonMs: 7 * 86_400_000,
  outputMetric: 'demand_power',
  sensorPrefix: 'area-',
  kind: 'household-area',
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(dataDir?: string) {
  const clock = { t: T0, now: () => clock.t };
  const actions: PrivacyAction[] = [];
  // The noise is drawn at 0 here (a uniform of 0.5 is the median of the Laplace distribution), so
  // these tests check the arithmetic and the bookkeeping; the noise itself is tested below.
  const agg = new HouseholdAggregator({ ...(dataDir ? { dataDir } : {}), clock, uniform: () => 0.5, actions: (a, n = 1) => actions.push(...Array<PrivacyAction>(n).fill(a)) });
  /** Each household sends one reading per 5 minutes of the window starting at `start`. */
  const feed = (area: string, households: Array<[id: string, watts: number]>, start = T0): void => {
    for (let t = start; t < start + W; t += 5 * MIN) for (const [id, w] of households) agg.add({ hub: 'demo', area, household: id, ts: t + 1234, value: w }, rules);
  };
  return { clock, actions, agg, feed };
}

const homes = (n: number, watts = 500): Array<[string, number]> => Array.from({ length: n }, (_, i) => [`H-${String(i).padStart(3, '0')}`, watts]);

describe('the 15/15 decision', () => {
  it('publishes 15 equal households; suppresses 14; suppresses one household above 15%', () => {
    expect(decideGroup(Array(15).fill(100), rules)).toMatchObject({ publish: true, households: 15, total: 1500 });
    expect(decideGroup(Array(14).fill(100), rules)).toMatchObject({ publish: false, reason: 'too_few_households' });
    // 19 × 100 W + one 400 W household: 400 / 2300 = 17.4% > 15%
    expect(decideGroup([...Array(19).fill(100), 400], rules)).toMatchObject({ publish: false, reason: 'dominant_household' });
    // exactly at the limit is allowed: 15% of 2000 W = 300 W
    expect(decideGroup([...Array(17).fill(100), 300], { minHouseholds: 15, maxShare: 0.15 })).toMatchObject({ publish: true });
  });

  it('property: a published group always has enough households and no dominant one', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { maxLength: 60 }), fc.integer({ min: 3, max: 30 }), fc.double({ min: 0.05, max: 0.5, noNaN: true }), (loads, minHouseholds, maxShare) => {
        const d = decideGroup(loads, { minHouseholds, maxShare });
        if (!d.publish) return;
        expect(loads.length).toBeGreaterThanOrEqual(minHouseholds);
        const total = loads.reduce((a, b) => a + b, 0);
        for (const l of loads) expect(l).toBeLessThanOrEqual(maxShare * total + 1e-9);
      }),
    );
  });
});

describe('household aggregator', () => {
  it('publishes the area total once the window has closed, and nothing about any household', () => {
    const { clock, agg, feed, actions } = setup();
    feed('north', homes(16, 500));
    clock.t = T0 + W + 30_000; // within the grace period
    expect(agg.drain(clock.t, rules, 'p-1')).toEqual([]);
    clock.t = T0 + W + MIN;
    const out = agg.drain(clock.t, rules, 'p-1');
    expect(out).toEqual([
      { hub: 'demo', domain: 'energy', sensor: 'area-north', site: 'area-north', kind: 'household-area', ts: T0, seq: T0 / W, metrics: { demand_power: 8000 }, attributes: { area: 'north' }, policy: 'p-1' },
    ]);
    expectNoPersonalData(out, homes(16).map(([id]) => id));
    expect(actions.filter((a) => a === 'emitted')).toHaveLength(1);
  });

  it('the total is the sum of each household’s mean load over the window', () => {
    const { clock, agg } = setup();
    for (const [i, [id]] of homes(15).entries()) {
      agg.add({ hub: 'demo', area: 'n', household: id, ts: T0 + MIN, value: 100 + i }, rules);
      agg.add({ hub: 'demo', area: 'n', household: id, ts: T0 + 2 * MIN, value: 300 + i }, rules);
    }
    clock.t = T0 + W + MIN;
    // mean of household i = 200 + i; sum over i = 0..14 = 3000 + 105
    expect(agg.drain(clock.t, rules, 'p')[0]?.metrics).toEqual({ demand_power: 3105 });
  });

  it('suppresses a group under the household minimum, or with one household above the share limit, and counts it', () => {
    const { clock, agg, feed, actions } = setup();
    feed('small', homes(14));
    feed('skewed', [...homes(19, 100), ['BIG', 400]]);
    feed('fine', homes(15));
    clock.t = T0 + W + MIN;
    const out = agg.drain(clock.t, rules, 'p');
    expect(out.map((r) => r.sensor)).toEqual(['area-fine']);
    expect(actions.filter((a) => a === 'suppressed')).toHaveLength(2);
    expect(agg.stats()).toMatchObject({ emitted: 1, suppressed: 2, open: 0 });
  });

  it('a differencing attempt fails: no two totals for one area and window, whatever arrives late, again, or after a restart', () => {
    // Scenario: the attacker wants T(16 households) and T(15 households without H-target) for the
    // same area and window, to subtract them. They can delay, resend and add readings, and restart the hub.
    const dir = mkdtempSync(join(tmpdir(), 'steward-households-'));
    dirs.push(dir);
    const target: [string, number] = ['H-target', 777];
    let s = setup(dir);
    s.feed('north', homes(15, 500));
    s.feed('north', [target]);
    // The same readings again (the forwarder re-filters a batch after a failed write): no change.
    s.feed('north', [target]);
    s.clock.t = T0 + W + MIN;
    const first = s.agg.drain(s.clock.t, rules, 'p');
    expect(first).toHaveLength(1);
    expect(first[0]!.metrics.demand_power).toBe(15 * 500 + 777);
    s.agg.ack(first);

    // After the close: the target's readings again, a newcomer, and readings without the target.
    const late: string[] = [];
    for (const [id, w] of [target, ['H-new', 300] as [string, number], ...homes(3)]) late.push(s.agg.add({ hub: 'demo', area: 'north', household: id, ts: T0 + 2 * MIN, value: w }, rules));
    expect(late.every((x) => x === 'late')).toBe(true);
    expect(s.agg.drain(s.clock.t + 10 * MIN, rules, 'p')).toEqual([]);

    // A restart does not forget which groups were decided.
    s.agg.close();
    s = setup(dir);
    s.clock.t = T0 + W + 5 * MIN;
    expect(s.agg.add({ hub: 'demo', area: 'north', household: 'H-000', ts: T0 + 3 * MIN, value: 1 }, rules)).toBe('late');
    expect(s.agg.drain(s.clock.t, rules, 'p')).toEqual([]);

    // Every total ever published for (north, T0): exactly one. The difference of any two is 0.
    const published = [...first].filter((r) => r.sensor === 'area-north' && r.ts === T0);
    expect(published).toHaveLength(1);
    // Holding the target back instead only ever yields the total without it, never both.
    const t = setup();
    t.feed('north', homes(15, 500), T0 + W);
    t.clock.t = T0 + 2 * W + MIN;
    t.agg.drain(t.clock.t, rules, 'p');
    expect(t.agg.add({ hub: 'demo', area: 'north', household: target[0], ts: T0 + W + MIN, value: target[1] }, rules)).toBe('late');
    s.agg.close();
  });

  it('groups are fixed and disjoint: each reading counts in exactly one area and window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ area: fc.constantFrom('a', 'b'), household: fc.integer({ min: 0, max: 40 }), minute: fc.integer({ min: 0, max: 59 }), value: fc.integer({ min: 0, max: 3000 }) }), { maxLength: 300 }),
        (readings) => {
          const { clock, agg } = setup();
          for (const r of readings) agg.add({ hub: 'demo', area: r.area, household: `H-${r.household}`, ts: T0 + r.minute * MIN, value: r.value }, { ...rules, minHouseholds: 3, maxShare: 0.5 });
          clock.t = T0 + 5 * W;
          const out = agg.drain(clock.t, { ...rules, minHouseholds: 3, maxShare: 0.5 }, 'p');
          const keys = out.map((r) => `${r.sensor}@${r.ts}`);
          expect(new Set(keys).size).toBe(keys.length);
          for (const r of out) expect((r.ts - T0) % W).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('closes a window on event time when a backlog is replayed, and on the clock when households fall silent', () => {
    const { clock, agg, feed } = setup();
    clock.t = T0 + 10 * W; // replaying hours-old readings after an outage
    feed('north', homes(15), T0);
    feed('north', homes(15), T0 + W);
    // The first window closes once the replay is a minute past it; the second is still filling.
    expect(agg.drain(clock.t, rules, 'p').map((r) => r.ts)).toEqual([T0]);
    // Nothing more arrives for a minute: the second closes on the clock.
    clock.t += MIN;
    expect(agg.drain(clock.t, rules, 'p').map((r) => r.ts)).toEqual([T0, T0 + W]);
  });

  it('a device clock in the future cannot close everyone’s window early', () => {
    const { clock, agg, feed } = setup();
    clock.t = T0 + 5 * MIN;
    feed('north', homes(14), T0);
    agg.add({ hub: 'demo', area: 'north', household: 'H-skewed', ts: T0 + W + 5 * MIN, value: 100 }, rules);
    expect(agg.drain(clock.t, rules, 'p')).toEqual([]);
    agg.add({ hub: 'demo', area: 'north', household: 'H-014', ts: T0 + 6 * MIN, value: 500 }, rules);
    clock.t = T0 + W + MIN;
    expect(agg.drain(clock.t, rules, 'p').map((r) => r.ts)).toEqual([T0]);
  });

  it('published totals are handed over until acknowledged, unchanged, and survive a restart meanwhile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-households-'));
    dirs.push(dir);
    let s = setup(dir);
    s.feed('north', homes(15));
    s.clock.t = T0 + W + MIN;
    const a = s.agg.drain(s.clock.t, rules, 'p');
    expect(s.agg.drain(s.clock.t, rules, 'p')).toEqual(a);
    s.agg.close();
    s = setup(dir);
    s.clock.t = T0 + W + 2 * MIN;
    expect(s.agg.drain(s.clock.t, rules, 'p-later')).toEqual(a);
    s.agg.ack(a as StoredReading[]);
    expect(s.agg.drain(s.clock.t, rules, 'p')).toEqual([]);
    expect(s.agg.stats().pending).toBe(0);
    s.agg.close();
  });

  it('open groups survive a crash: readings the spool already deleted are not lost', () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-households-'));
    dirs.push(dir);
    let s = setup(dir);
    s.feed('north', homes(10));
    s.agg.close(); // as good as a crash: every add is committed
    s = setup(dir);
    s.feed('north', homes(15).slice(10));
    s.clock.t = T0 + W + MIN;
    expect(s.agg.drain(s.clock.t, rules, 'p')[0]?.metrics.demand_power).toBe(15 * 500);
    s.agg.close();
  });

  it('keeps household ids only as salted digests in its state file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-households-'));
    dirs.push(dir);
    const s = setup(dir);
    s.feed('north', homes(5).map(([id, w]) => [`meter-${id}-alice@example.org`, w]));
    s.agg.close();
    const files = readdirSync(dir).filter((f) => f.startsWith(HOUSEHOLDS_DB));
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
    expect(bytes.length).toBeGreaterThan(0);
    expectNoPersonalData(bytes, ['alice@example.org', 'meter-H-000']);
  });
});
