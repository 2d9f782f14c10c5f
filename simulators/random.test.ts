import { describe, expect, it } from 'vitest';
import { Rng, hashSeed, noiseAt, normalCdf } from './random.ts';

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]): number => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

describe('random', () => {
  it('repeats the same stream for the same seed and differs for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xa);
    expect(xa.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws normal, exponential and Poisson deviates with the right moments', () => {
    const r = new Rng(1);
    const n = Array.from({ length: 20_000 }, () => r.normal(5, 2));
    expect(mean(n)).toBeCloseTo(5, 1);
    expect(sd(n)).toBeCloseTo(2, 1);
    const e = Array.from({ length: 20_000 }, () => r.exponential(0.5));
    expect(mean(e)).toBeCloseTo(2, 1);
    for (const lambda of [0.3, 4, 80]) {
      const p = Array.from({ length: 20_000 }, () => r.poisson(lambda));
      expect(Math.abs(mean(p) - lambda) / lambda).toBeLessThan(0.05);
      expect(p.every((k) => Number.isInteger(k) && k >= 0)).toBe(true);
    }
    expect(r.poisson(0)).toBe(0);
  });

  it('picks by weight and shuffles without losing anything', () => {
    const r = new Rng(2);
    const hits = [0, 0, 0];
    for (let i = 0; i < 10_000; i++) hits[r.weightedIndex([1, 0, 3])]!++;
    expect(hits[1]).toBe(0);
    expect((hits[2] ?? 0) / (hits[0] ?? 1)).toBeCloseTo(3, 0);
    expect(r.weightedIndex([0, 0])).toBe(-1);
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('hashes seeds of any size and mixes labels', () => {
    expect(hashSeed(1, 'a')).not.toBe(hashSeed(1, 'b'));
    expect(hashSeed(2 ** 40)).not.toBe(hashSeed(0));
    expect(hashSeed(-1)).not.toBe(hashSeed(1));
    expect(hashSeed(7, 'x', 3)).toBe(hashSeed(7, 'x', 3));
  });

  it('gives a smooth, unit-variance noise process with random access', () => {
    const scale = 3_600_000;
    const xs = Array.from({ length: 5000 }, (_, i) => noiseAt(9, 'n', i * 600_000, scale));
    expect(Math.abs(mean(xs))).toBeLessThan(0.15);
    expect(sd(xs)).toBeGreaterThan(0.8);
    expect(sd(xs)).toBeLessThan(1.2);
    // Ten minutes apart on an hourly lattice: neighbours are close.
    const steps = xs.slice(1).map((x, i) => Math.abs(x - (xs[i] ?? 0)));
    expect(mean(steps)).toBeLessThan(0.3);
    // Asked in any order, the same value.
    const v = noiseAt(9, 'n', 1_234_567, scale);
    noiseAt(9, 'n', 99, scale);
    expect(noiseAt(9, 'n', 1_234_567, scale)).toBe(v);
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
  });
});
