/**
 * Seeded randomness for the simulators. Nothing here reads `Math.random` or the wall clock:
 * the same seed gives the same numbers on every machine, so the same seed and start time give
 * the same readings.
 *
 * Two tools:
 * - {@link Rng}: a sequential generator (mulberry32) with normal, Poisson and exponential helpers,
 *   for state a sensor carries forward step by step.
 * - {@link hashSeed}, {@link unitAt} and {@link noiseAt}: stateless, random-access draws keyed by
 *   (seed, label, index). The shared world uses them so that a cloud, a gust or a storm at time t
 *   is the same whoever asks first and whenever they ask.
 */

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: a good avalanche for mixing integers. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Mixes any number of strings and numbers into one unsigned 32-bit seed. Numbers may be any
 * finite value (large indexes and negative numbers included); strings are hashed with FNV-1a.
 */
export function hashSeed(...parts: ReadonlyArray<string | number>): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (typeof p === 'string') {
      h = fmix32(h ^ fnv1a(p));
    } else {
      // Split into two 32-bit halves so indexes beyond 2^32 still mix fully.
      const lo = p >>> 0;
      const hi = Math.floor(p / 4294967296) >>> 0;
      h = fmix32(h ^ lo);
      h = fmix32(Math.imul(h, 0x27d4eb2f) ^ hi);
    }
  }
  return h >>> 0;
}

/** mulberry32: a tiny, fast 32-bit PRNG with a full 2^32 period; returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded sequential random generator. */
export class Rng {
  readonly #next: () => number;
  #spareNormal: number | undefined;

  /** @param seed any number; it is hashed, so nearby seeds give unrelated streams. */
  constructor(seed: number) {
    this.#next = mulberry32(hashSeed(seed));
  }

  /** An independent generator for a named sub-stream: `Rng.derive(seed, 'clouds', day)`. */
  static derive(seed: number, ...labels: ReadonlyArray<string | number>): Rng {
    return new Rng(hashSeed(seed, ...labels));
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.#next();
  }

  /** Integer uniform in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  /** Normal deviate (Marsaglia polar method). */
  normal(mean = 0, sd = 1): number {
    if (this.#spareNormal !== undefined) {
      const s = this.#spareNormal;
      this.#spareNormal = undefined;
      return mean + sd * s;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = this.#next() * 2 - 1;
      v = this.#next() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.#spareNormal = v * f;
    return mean + sd * u * f;
  }

  /** Exponential deviate with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    return -Math.log(1 - this.#next()) / rate;
  }

  /**
   * Poisson deviate with mean lambda: Knuth's product method below 30, a rounded normal
   * approximation above (where it is accurate to well under 1 %).
   */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 30) {
      const l = Math.exp(-lambda);
      let k = 0;
      let p = 1;
      do {
        k++;
        p *= this.#next();
      } while (p > l);
      return k - 1;
    }
    return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[Math.floor(this.#next() * items.length)] as T;
  }

  /** Index drawn with probability proportional to its (non-negative) weight; -1 if all are zero. */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w > 0 ? w : 0;
    if (total <= 0) return -1;
    let r = this.#next() * total;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (w <= 0) continue;
      r -= w;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const a = items.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.#next() * (i + 1));
      [a[i], a[j]] = [a[j] as T, a[i] as T];
    }
    return a;
  }
}

/** Stateless uniform draw in [0, 1) for (seed, label, index). */
export function unitAt(seed: number, label: string, index: number): number {
  return hashSeed(seed, label, index) / 4294967296;
}

/** Stateless standard-normal draw for (seed, label, index) (Box–Muller on two hashed uniforms). */
export function normalAt(seed: number, label: string, index: number): number {
  const u1 = (hashSeed(seed, label, index, 1) + 1) / 4294967297;
  const u2 = hashSeed(seed, label, index, 2) / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Smooth random process of time, approximately N(0, 1): normal values on a lattice every
 * `scaleMs`, joined by a cubic (Catmull–Rom) curve. Random access: `noiseAt(s, l, t, k)` is the
 * same number whenever and in whatever order it is asked. The variance between lattice points is a
 * little below one; the result is rescaled so that its standard deviation is close to 1.
 */
export function noiseAt(seed: number, label: string, tMs: number, scaleMs: number): number {
  const x = tMs / scaleMs;
  const i = Math.floor(x);
  const f = x - i;
  const p0 = normalAt(seed, label, i - 1);
  const p1 = normalAt(seed, label, i);
  const p2 = normalAt(seed, label, i + 1);
  const p3 = normalAt(seed, label, i + 2);
  const f2 = f * f;
  const f3 = f2 * f;
  const v = 0.5 * (2 * p1 + (-p0 + p2) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f2 + (-p0 + 3 * p1 - 3 * p2 + p3) * f3);
  return v * 1.12;
}

/** Standard normal cumulative distribution (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
