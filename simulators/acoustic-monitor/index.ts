/**
 * `acoustic-monitor`: an autonomous recorder with a species classifier (BirdNET-like). Each site
 * has its own pool of species drawn from the habitat's calling species, ranked by a seeded draw
 * around each species' commonness, with a Zipf (log-series-like) abundance curve: a few species
 * make most detections and the rare ones appear now and then. Birds sing most in the dawn chorus
 * (peaking just after sunrise, strongest in spring), owls call at night, frogs and toads on mild
 * spring nights. Migrants are present only in their season. Each reading is one detection.
 */
import { BaseSensor, defineSimulator, loggerBatteryV, round } from '../define.ts';
import { Rng, hashSeed } from '../random.ts';
import { SPECIES, type Species, isPresent } from '../species.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Mean of the bird activity curve over a day (so that `detectionsPerDay` is a daily total). */
const BIRD_ACTIVITY_MEAN = 0.73;

const gauss = (x: number, mu: number, sd: number): number => Math.exp(-((x - mu) ** 2) / (2 * sd * sd));

/** The site's species pool, most abundant first, with Zipf weights summing to 1. */
export function sitePool(habitat: Config['habitat'], poolSize: number, exponent: number, seed: number): { species: Species; weight: number }[] {
  const r = new Rng(seed);
  const candidates = SPECIES.filter((s) => s.calls && s.habitats.includes(habitat))
    .map((s) => ({ s, key: s.commonness + r.normal(0, 0.9) }))
    .sort((a, b) => b.key - a.key)
    .slice(0, poolSize);
  const raw = candidates.map((_, i) => 1 / Math.pow(i + 1, exponent));
  const total = raw.reduce((a, b) => a + b, 0);
  return candidates.map((c, i) => ({ species: c.s, weight: (raw[i] as number) / total }));
}

class AcousticMonitor extends BaseSensor<Config> {
  readonly #pool: { species: Species; weight: number }[];
  readonly #outsiders: Species[];

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'acoustic-monitor', 'biodiversity');
    // The pool belongs to the site: two monitors at one site hear the same community.
    this.#pool = sitePool(this.config.habitat, this.config.poolSize, this.config.zipfExponent, hashSeed(opts.environment.seed, 'pool', opts.site ?? opts.id));
    const inPool = new Set(this.#pool.map((p) => p.species.name));
    this.#outsiders = SPECIES.filter((s) => s.calls && !inPool.has(s.name));
  }

  /** Relative calling activity of a group at `t` (birds: 1 ≈ a quiet daytime hour; the dawn peak is ~4). */
  #activity(group: Species['group'], t: number): number {
    const env = this.env;
    const st = env.sunTimes(t);
    const elev = env.sun(t).elevationDeg;
    if (group === 'bird') {
      const sinceSunrise = (t - st.sunriseMs) / HOUR;
      const sinceSunset = (t - st.sunsetMs) / HOUR;
      const day = elev > 0 ? 0.6 * (1 - 0.3 * gauss(env.solarHour(t), 14, 2)) : 0;
      return 4 * gauss(sinceSunrise, 0.4, 0.9) + day + 0.8 * gauss(sinceSunset, -0.3, 0.7) + 0.02;
    }
    if (group === 'owl') return elev < -6 ? 1 : elev < 0 ? 0.4 : 0.02;
    if (group === 'amphibian') {
      const yf = env.yearFraction(t);
      const spring = gauss(yf, 0.27, 0.06);
      const mild = env.airTemperature(t) > 5 ? 1 : 0.1;
      return (elev < -3 ? 3 : 0.3) * spring * mild;
    }
    return 0;
  }

  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    const env = this.env;
    const from = previous ?? t - this.intervalS * 1000;
    const mid = (from + t) / 2;
    const dtDays = (t - from) / DAY;
    const yf = env.yearFraction(mid);
    const mod = env.modifiers(mid);
    // Song is strongest in spring (peak mid-May) and weakest in winter.
    const seasonal = 0.35 + 0.65 * gauss(yf, 0.37, 0.12);
    const perDay = (this.config.detectionsPerDay * seasonal * mod.biodiversityFactor) / BIRD_ACTIVITY_MEAN;
    const present = Math.max(1, Math.ceil(this.#pool.length * mod.richnessFactor));
    const rates = this.#pool.map((p, i) =>
      i < present && isPresent(p.species, yf) ? perDay * p.weight * this.#activity(p.species.group, mid) : 0,
    );
    const total = rates.reduce((a, b) => a + b, 0) * dtDays;
    const n = this.rng.poisson(total * (1 + this.config.falsePositiveRate));
    if (n === 0) return [];

    const times = this.#distinctTimes(from, t, n);
    const out: ReadingPayload[] = [];
    const batteryV = loggerBatteryV(env, t, this.rng);
    for (const ts of times) {
      let species: Species;
      let confidence: number;
      if (this.rng.chance(this.config.falsePositiveRate / (1 + this.config.falsePositiveRate)) && this.#outsiders.length > 0) {
        species = this.rng.pick(this.#outsiders);
        confidence = 0.5 + 0.12 * this.rng.next();
      } else {
        const i = this.rng.weightedIndex(rates);
        species = (this.#pool[i] ?? this.#pool[0])!.species;
        confidence = 0.5 + 0.49 * Math.sqrt(this.rng.next());
      }
      const count = species.group === 'amphibian' ? 1 + this.rng.poisson(3) : species.group === 'owl' ? 1 : 1 + this.rng.poisson(0.25);
      out.push(
        this.reading(
          ts,
          { count, confidence: round(Math.min(0.99, confidence), 2) },
          { species: species.name, attributes: { method: 'acoustic', battery_v: batteryV } },
        ),
      );
    }
    return out;
  }

  /** `n` distinct whole-millisecond times in (from, to], ascending. */
  #distinctTimes(from: number, to: number, n: number): number[] {
    const span = Math.max(1, Math.floor(to - from));
    const set = new Set<number>();
    while (set.size < Math.min(n, span)) set.add(Math.floor(from) + 1 + Math.floor(this.rng.next() * span));
    return [...set].sort((a, b) => a - b);
  }
}

export default defineSimulator({
  kind: 'acoustic-monitor',
  domain: 'biodiversity',
  description: 'Acoustic recorder: bird and anuran detections from a Zipf-ranked site species pool, with a dawn chorus; count and confidence.',
  metrics: ['count', 'confidence'],
  configSchema,
  create: (opts) => new AcousticMonitor(opts),
});
