import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../simulators/index.ts';
import type { StoredReading } from '../core/store.ts';
import { expectNoPersonalData } from '../tests/harness/privacy.ts';
import { type HouseholdRules, type PrivacyAction, bestGuessProbability, laplace } from '../privacy/index.ts';
import { HOUSEHOLDS_DB, HouseholdAggregator, secureUniform } from './households.ts';

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

// ---------------------------------------------------------------------------
// Differential privacy: noise, budget, and what an attacker gets from the totals
// ---------------------------------------------------------------------------

const DAY = 86_400_000;
const D0 = Date.UTC(2025, 4, 1); // a UTC day

/** Seeded uniforms in (0, 1) (the simulators' mulberry32, moved off 0 by half a step): reproducible noise for the tests. */
function seededUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() + 0.5 / 4294967296;
}

const dpRules = (windowsPerDay: number, epsilonPerDay: number, maxLoadW: number): HouseholdRules => ({
  ...rules,
  windowMs: DAY / windowsPerDay,
  epsilonPerDay,
  epsilonPerWindow: epsilonPerDay / windowsPerDay,
  maxLoadW,
});

describe('differentially private totals', () => {
  it('draws the noise from the secure source by default', () => {
    const secure = Array.from({ length: 1000 }, () => laplace(1, secureUniform));
    expect(new Set(secure).size).toBe(1000);
  });

  it('a published total is noisy, capped per household, drawn once and never drawn again', () => {
    const clock = { t: D0, now: () => clock.t };
    const agg = new HouseholdAggregator({ clock, actions: () => {} });
    const r = dpRules(1, 1, 3000);
    for (let i = 0; i < 15; i++) agg.add({ hub: 'demo', area: 'n', household: `H-${i}`, ts: D0 + 3600_000, value: i === 0 ? 4000 : 500 }, { ...r, maxShare: 0.5 });
    clock.t = D0 + DAY + 2 * MIN;
    const [first] = agg.drain(clock.t, { ...r, maxShare: 0.5 }, 'p');
    const total = first!.metrics.demand_power!;
    // 14 × 500 + 3000 (the 4000 W household counts as 3000 W) = 10 000, plus noise of scale 3000.
    expect(total).not.toBe(10_000);
    expect(Number.isInteger(total) && total >= 0).toBe(true);
    expect(agg.drain(clock.t + DAY, { ...r, maxShare: 0.5 }, 'p')[0]?.metrics.demand_power).toBe(total);
  });

  it('enforces the budget: a meter reporting two areas in one day pays twice and is left out of the second total', () => {
    const clock = { t: D0, now: () => clock.t };
    const actions: PrivacyAction[] = [];
    const agg = new HouseholdAggregator({ clock, uniform: () => 0.5, actions: (a) => actions.push(a) });
    const r = dpRules(1, 1, 3000);
    for (const area of ['a-north', 'b-south']) for (let i = 0; i < 15; i++) agg.add({ hub: 'demo', area, household: `${area}-${i}`, ts: D0 + MIN, value: 400 }, r);
    // The target reports in both areas (overlapping areas): 15 + 1 households in each group.
    for (const area of ['a-north', 'b-south']) agg.add({ hub: 'demo', area, household: 'TARGET', ts: D0 + MIN, value: 1000 }, r);
    clock.t = D0 + DAY + 2 * MIN;
    const out = agg.drain(clock.t, r, 'p');
    expect(Object.fromEntries(out.map((x) => [x.sensor, x.metrics.demand_power]))).toEqual({ 'area-a-north': 15 * 400 + 1000, 'area-b-south': 15 * 400 });
    expect(actions.filter((a) => a === 'over_budget')).toHaveLength(1);
    expect(agg.stats().overBudget).toBe(1);
  });

  it('property: for any day of windows with households joining and leaving, and a meter in two areas, an attacker who knows every other home and sees every total tells two days of one household apart no better than the stated bound', () => {
    const TRIALS = 160;
    fc.assert(
      fc.property(
        fc.record({
          windowsPerDay: fc.constantFrom(1, 2, 4, 8),
          epsilonPerDay: fc.double({ min: 0.3, max: 2, noNaN: true }),
          maxLoadW: fc.integer({ min: 1000, max: 4000 }),
          others: fc.integer({ min: 16, max: 24 }),
          twoAreas: fc.boolean(),
          seed: fc.integer(),
          // Which windows each household (index 0 = the target) reports in: joining, leaving, gaps.
          presence: fc.array(fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), { minLength: 25, maxLength: 25 }),
        }),
        ({ windowsPerDay, epsilonPerDay, maxLoadW, others, twoAreas, seed, presence }) => {
          const r = dpRules(windowsPerDay, epsilonPerDay, maxLoadW);
          const u = seededUniform(seed);
          // Other homes' loads are high enough that the target is never above 15% in either world:
          // the 15/15 decision is then the same in both, and only the noise stands between them.
          const load = (h: number, w: number): number => maxLoadW * (1 + ((h * 7 + w * 3) % 5) / 10);
          const areas = twoAreas ? ['north', 'south'] : ['north'];
          const present = (h: number, w: number): boolean => h === 0 || presence[h]![w % 8]! || presence[h]![(w + 3) % 8]!;
          // Some windows publish (15 or more homes report), others not: the test needs at least one.
          const publishable = Array.from({ length: windowsPerDay }, (_, w) => Array.from({ length: others }, (_, i) => present(i + 1, w)).filter(Boolean).length + 1 >= 15);
          fc.pre(publishable.some(Boolean));
          let correct = 0;
          for (let trial = 0; trial < TRIALS; trial++) {
            const worldB = u() < 0.5; // A: the target used 0 W all day; B: maxLoadW all day
            const clock = { t: D0, now: () => clock.t };
            const agg = new HouseholdAggregator({ clock, uniform: u, actions: () => {} });
            for (let w = 0; w < windowsPerDay; w++) {
              const ts = D0 + w * r.windowMs + MIN;
              for (const area of areas) {
                for (let h = 1; h <= others; h++) if (present(h, w)) agg.add({ hub: 'demo', area, household: `${area}-${h}`, ts, value: load(h, w) }, r);
                if (present(0, w)) agg.add({ hub: 'demo', area, household: 'TARGET', ts, value: worldB ? maxLoadW : 0 }, r);
              }
            }
            clock.t = D0 + DAY + 2 * MIN;
            const published = agg.drain(clock.t, r, 'p');
            agg.close();
            // The attacker knows every other home's load and which totals the target paid for
            // (the mechanism is public; inclusion does not depend on the load), and runs the
            // likelihood-ratio test of the two days on the residuals.
            let spent = 0;
            let llr = 0;
            const b = maxLoadW / r.epsilonPerWindow;
            for (const rec of published.sort((x, y) => x.ts - y.ts || x.sensor.localeCompare(y.sensor))) {
              const w = Math.round((rec.ts - D0) / r.windowMs);
              const area = rec.sensor.replace('area-', '');
              if (spent + r.epsilonPerWindow > epsilonPerDay + 1e-9) continue;
              spent += r.epsilonPerWindow;
              let known = 0;
              for (let h = 1; h <= others; h++) if (present(h, w)) known += Math.min(load(h, w), maxLoadW);
              void area;
              const residual = rec.metrics.demand_power! - known;
              llr += (Math.abs(residual) - Math.abs(residual - maxLoadW)) / b;
            }
            if (llr > 0 === worldB) correct++;
          }
          const bound = bestGuessProbability(epsilonPerDay);
          const slack = 3 * Math.sqrt((bound * (1 - bound)) / TRIALS) + 0.02;
          if (process.env.STEWARD_DP_DEBUG) console.log(JSON.stringify({ windowsPerDay, epsilonPerDay, twoAreas, publishable: publishable.filter(Boolean).length, rate: correct / TRIALS, bound }));
          expect(correct / TRIALS).toBeLessThanOrEqual(bound + slack);
        },
      ),
      { numRuns: 6 },
    );
  }, 120_000);

  it('the attacker above is a real one: without the noise it is always right', () => {
    const r = dpRules(4, 1, 2000);
    let correct = 0;
    for (const worldB of [false, true, false, true]) {
      const clock = { t: D0, now: () => clock.t };
      const agg = new HouseholdAggregator({ clock, uniform: () => 0.5, actions: () => {} });
      for (let w = 0; w < 4; w++) {
        for (let h = 1; h <= 15; h++) agg.add({ hub: 'demo', area: 'north', household: `h-${h}`, ts: D0 + w * r.windowMs + MIN, value: 2000 }, r);
        agg.add({ hub: 'demo', area: 'north', household: 'TARGET', ts: D0 + w * r.windowMs + MIN, value: worldB ? 2000 : 0 }, r);
      }
      clock.t = D0 + DAY + 2 * MIN;
      const residual = agg.drain(clock.t, r, 'p').reduce((a, rec) => a + rec.metrics.demand_power! - 15 * 2000, 0);
      if (residual > 4 * 1000 === worldB) correct++;
      agg.close();
    }
    expect(correct).toBe(4);
  });
});
