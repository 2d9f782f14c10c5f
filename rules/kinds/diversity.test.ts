import { afterEach, describe, expect, it } from 'vitest';
import { DAY, harness, type Harness, HOUR, reading, T0 } from '../testing.ts';
import { diversityIndex } from './diversity.ts';

const rule = (index: string, dropBy: number): string => `
rules:
  - id: decline
    kind: diversity
    select: { domain: biodiversity }
    aggregate: { by: site }
    index: ${index}
    window: 7d
    dropBy: ${dropBy}
    minDetections: 20
`;

const detect = (h: Harness, ts: number, species: string): void =>
  h.engine.onReadings([reading('am-1', ts, { count: 1 }, { species, site: 'wetland', domain: 'biodiversity' })]);

/**
 * `each` detections of each of `species` species, shuffled over the hours strictly inside the week
 * starting at `from` (so a sliding 7-day window ending on the next week's last detection holds
 * exactly that week).
 */
function week(h: Harness, from: number, species: number, each: number): void {
  let k = 0;
  for (let s = 0; s < species; s++) for (let i = 0; i < each; i++) detect(h, from + HOUR + ((k++ * 37) % (7 * 24 - 2)) * HOUR + s * 1000 + i, `Species ${s}`);
}

/** Week 1 with `before` species, week 2 with `after`, and one more of species 0 at the very end of week 2. */
function twoWeeks(h: Harness, before: number, after: number, each = 5): void {
  week(h, T0, before, each);
  week(h, T0 + 7 * DAY, after, each);
  detect(h, T0 + 14 * DAY, 'Species 0');
}

describe('diversity', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('known indices: richness counts species, Shannon is ln(S) for an even community', () => {
    const even = new Map(Array.from({ length: 10 }, (_, i) => [`s${i}`, 5] as [string, number]));
    expect(diversityIndex(even, 'richness')).toEqual({ value: 10, individuals: 50, species: 10 });
    expect(diversityIndex(even, 'shannon').value).toBeCloseTo(Math.log(10), 12);
    expect(diversityIndex(new Map([['a', 9], ['b', 1]]), 'shannon').value).toBeCloseTo(-(0.9 * Math.log(0.9) + 0.1 * Math.log(0.1)), 12);
  });

  it('richness: 10 species last week, 6 this week: 40 % below the baseline, fires (limit 25 %)', async () => {
    // Scenario: an acoustic monitor at the wetland; week 1: 10 species × 5; week 2: 6 species × 5.
    h = await harness(rule('richness', 25));
    twoWeeks(h, 10, 6);
    await h.tick();
    const [a] = h.messages('decline');
    expect(a?.subject).toBe('wetland');
    expect(a?.facts).toMatchObject({ current: 6, baseline: 10, dropPercent: 40 });
    expect(a?.message).toMatch(/^Species richness at site wetland \(demo\) fell 40% below its baseline: 6 species in the last 7 days \(31 individuals\) vs 10 species in the 7 days before \(50 individuals\); limit 25%; observed since /);
  });

  it('Shannon: an even community of 10 falling to 6 species is ln 6 / ln 10 (22 % drop): fires at 20 %, not at 25 %', async () => {
    // Scenario: as above; the known drop is 1 − H(6,5,5,5,5,5) / ln 10 ≈ 22.2 %.
    h = await harness(rule('shannon', 20));
    twoWeeks(h, 10, 6);
    await h.tick();
    const [a] = h.messages('decline');
    const current = new Map([['0', 6], ['1', 5], ['2', 5], ['3', 5], ['4', 5], ['5', 5]]);
    expect(Number(a?.facts.dropPercent)).toBeCloseTo((1 - diversityIndex(current, 'shannon').value / Math.log(10)) * 100, 9);
    h.writeRules(rule('shannon', 25));
    await h.engine.reload();
    await h.tick();
    expect(h.messages('decline').map((m) => m.event)).toEqual(['firing', 'resolved']);
  });

  it('too few detections: no verdict', async () => {
    // Scenario: 10 detections a week (the rule wants 20 in each window).
    h = await harness(rule('richness', 25));
    twoWeeks(h, 10, 2, 1);
    await h.tick();
    expect(h.engine.alerts()).toHaveLength(0);
  });

  it('detections survive a restart (storage cannot give species back, the state keeps them)', async () => {
    // Scenario: two weeks of detections, restart, evaluate: the same verdict without new data.
    h = await harness(rule('richness', 25));
    twoWeeks(h, 10, 6);
    await h.engine.stop();
    await h.restart();
    await h.tick();
    expect(h.engine.get('demo.decline.wetland')?.state).toBe('firing');
  });
});
