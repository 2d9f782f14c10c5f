import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../simulators/index.ts';
import { bestGuessProbability, decideGroup, laplace } from './households.ts';
import type { HouseholdRules } from './policy.ts';

const rules: Pick<HouseholdRules, 'minHouseholds' | 'maxShare'> = { minHouseholds: 15, maxShare: 0.15 };

/** Seeded uniforms in (0, 1) (the simulators' mulberry32, moved off 0 by half a step): reproducible noise for the tests. */
function seededUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() + 0.5 / 4294967296;
}

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

describe('differentially private totals', () => {
  it('Laplace noise has the stated scale', () => {
    const u = seededUniform(7);
    const draws = Array.from({ length: 20_000 }, () => laplace(250, u));
    const meanAbs = draws.reduce((a, x) => a + Math.abs(x), 0) / draws.length;
    expect(meanAbs).toBeGreaterThan(240);
    expect(meanAbs).toBeLessThan(260);
    expect(Math.abs(draws.reduce((a, x) => a + x, 0) / draws.length)).toBeLessThan(10);
    expect(bestGuessProbability(1)).toBeCloseTo(0.7311, 4);
  });
});
