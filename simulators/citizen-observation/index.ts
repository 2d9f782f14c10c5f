/**
 * `citizen-observation`: the stream of a community recording app. Named volunteers report what
 * they see in daylight (more at weekends): common birds, flowers and butterflies in season,
 * mammals now and then, with a count, how sure they are, the exact spot from their phone's GPS
 * and sometimes a note. While the threatened lady's-slipper orchid flowers, some of them visit its
 * colony and report it with exact coordinates.
 *
 * PERSONAL AND SENSITIVE DATA, deliberately: `observer_name`, `observer_email`, sometimes
 * `observer_phone`, notes that may contain a phone number or an email, exact coordinates of
 * people's whereabouts, and the exact location of a threatened species. The privacy boundary must
 * strip, scrub and generalise them before publication.
 */
import type { Location } from '../../core/reading.ts';
import { BaseSensor, clamp, defineSimulator, randomPointNear, round } from '../define.ts';
import { Rng } from '../random.ts';
import { SENSITIVE_ORCHID, SPECIES, type Species, inSeason } from '../species.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, type Observer, configSchema } from './config.ts';

const HOUR = 3_600_000;

/** Fictional people: emails at example.org (RFC 2606), phones in Ofcom's 07700 900xxx drama range. */
const FIRST = ['Aisha', 'Ben', 'Carys', 'Dev', 'Elin', 'Finn', 'Grace', 'Hamza', 'Isla', 'Jonah', 'Kofi', 'Lena', 'Maya', 'Niall', 'Olu', 'Priya'];
const LAST = ['Okafor', 'Whitfield', 'Thwaite', 'Raman', 'Kowalski', 'Hartley', 'Nakamura', 'Brennan', 'Metcalfe', 'Iqbal', 'Sowerby', 'Lindqvist'];

export function defaultObservers(seed: number, n = 8): Observer[] {
  const r = Rng.derive(seed, 'observers');
  const used = new Set<string>();
  const out: Observer[] = [];
  while (out.length < n) {
    const first = r.pick(FIRST);
    const last = r.pick(LAST);
    const name = `${first} ${last}`;
    if (used.has(name)) continue;
    used.add(name);
    out.push({
      name,
      email: `${first}.${last}@example.org`.toLowerCase(),
      phone: `+44 7700 900${String(r.int(0, 999)).padStart(3, '0')}`,
      expertise: round(r.uniform(0.1, 1), 2),
    });
  }
  return out;
}

const gauss = (x: number, mu: number, sd: number): number => Math.exp(-((x - mu) ** 2) / (2 * sd * sd));

class CitizenObservations extends BaseSensor<Config> {
  readonly #observers: Observer[];
  readonly #colony: Location;
  readonly #visible: Species[];

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'citizen-observation', 'biodiversity');
    this.#observers = this.config.observers ?? defaultObservers(opts.seed);
    const env = opts.environment;
    if (this.config.orchidColony) {
      this.#colony = this.config.orchidColony;
    } else {
      const r = Rng.derive(env.seed, 'orchid-colony');
      const bearing = r.uniform(0, 2 * Math.PI);
      const km = r.uniform(1, 2);
      this.#colony = {
        lat: round(env.params.latitude + (km * Math.cos(bearing)) / 111.32, 6),
        lon: round(env.params.longitude + (km * Math.sin(bearing)) / (111.32 * Math.cos((env.params.latitude * Math.PI) / 180)), 6),
      };
    }
    this.#visible = SPECIES.filter((s) => s.name !== SENSITIVE_ORCHID && (s.group !== 'bird' || s.commonness >= 2));
  }

  /** Relative chance of an observation at `t`: daylight hours, peaks late morning and mid-afternoon. */
  #effort(t: number): number {
    const h = this.env.localHour(t);
    if (this.env.sun(t).elevationDeg < 2) return 0;
    return gauss(h, 10.5, 1.8) + gauss(h, 15, 2);
  }

  #pickSpecies(t: number): Species {
    const env = this.env;
    const yf = env.yearFraction(t);
    const warm = env.airTemperature(t) > 13 && env.cloudCover(t) < 0.8;
    const weights = this.#visible.map((s) => {
      if (!inSeason(s, yf)) return 0;
      if (s.group === 'butterfly' && !warm) return 0;
      if (s.migrant === 'summer' && (yf < 0.28 || yf > 0.71)) return 0;
      if (s.migrant === 'winter' && yf > 0.22 && yf < 0.79) return 0;
      const base = s.commonness ** 2;
      return s.group === 'plant' || s.group === 'butterfly' ? base * 1.5 : s.group === 'mammal' ? base * 0.5 : base;
    });
    const i = this.rng.weightedIndex(weights);
    return this.#visible[i >= 0 ? i : 0] as Species;
  }

  #count(s: Species): number {
    switch (s.group) {
      case 'plant':
        return 1 + this.rng.poisson(6);
      case 'butterfly':
        return 1 + this.rng.poisson(1);
      case 'mammal':
        return 1 + this.rng.poisson(0.2);
      case 'amphibian':
        return 1 + this.rng.poisson(4);
      default:
        return 1 + this.rng.poisson(1.2);
    }
  }

  #note(s: Species, o: Observer): string | undefined {
    if (!this.rng.chance(this.config.noteShare)) return undefined;
    const r = this.rng;
    const plain = [
      'Heard first, then seen.',
      'Photo taken, will upload later.',
      'By the footbridge over the beck.',
      'Several more further up the lane.',
      'Not 100% sure of the ID.',
      'On the limestone pavement, south side.',
    ];
    if (!r.chance(this.config.contactInNoteShare)) return r.pick(plain);
    const phone = o.phone ?? '+44 7700 900000';
    return r.pick([
      `Happy to show anyone - ring me on ${phone}.`,
      `Got photos of the ${s.common.toLowerCase()}, email me at ${o.email} if you want them.`,
      `Call ${phone.replace(/^\+44 /, '0')} after 6pm, I can take you there.`,
      `More details from ${o.email}.`,
    ]);
  }

  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    const env = this.env;
    const from = previous ?? t - this.intervalS * 1000;
    const mid = (from + t) / 2;
    // Effort integrates to about 1 per day (two gaussians of sd 1.8 h and 2 h, ~ 9.5 hours of weight).
    const weekend = env.isWeekend(mid) ? 2 : 1;
    const lambda = (this.config.observationsPerDay * weekend * this.#effort(mid) * ((t - from) / HOUR)) / 9.5;
    const n = this.rng.poisson(lambda);
    if (n === 0) return [];
    const out: ReadingPayload[] = [];
    const span = Math.max(1, Math.floor(t - from));
    const times = new Set<number>();
    while (times.size < Math.min(n, span)) times.add(Math.floor(from) + 1 + Math.floor(this.rng.next() * span));
    const orchidInFlower = inSeason(SPECIES.find((s) => s.name === SENSITIVE_ORCHID) as Species, env.yearFraction(mid));
    for (const ts of [...times].sort((a, b) => a - b)) {
      const observer = this.rng.pick(this.#observers);
      let species: Species;
      let location: Location;
      if (orchidInFlower && this.rng.chance(this.config.sensitiveShare)) {
        species = SPECIES.find((s) => s.name === SENSITIVE_ORCHID) as Species;
        location = {
          lat: round(this.#colony.lat + this.rng.normal(0, 0.00003), 6),
          lon: round(this.#colony.lon + this.rng.normal(0, 0.00005), 6),
          acc: round(this.rng.uniform(3, 8), 0),
        };
      } else {
        species = this.#pickSpecies(ts);
        location = { ...randomPointNear(env.params.latitude, env.params.longitude, this.config.radiusKm, this.rng), acc: round(this.rng.uniform(3, 15), 0) };
      }
      const sure = clamp(0.55 + 0.44 * (0.7 * observer.expertise + 0.3 * this.rng.next()), 0.5, 0.99);
      const attributes: Record<string, string | number | boolean> = {
        observer_name: observer.name,
        observer_email: observer.email,
        method: 'visual',
      };
      if (observer.phone && this.rng.chance(0.5)) attributes.observer_phone = observer.phone;
      const note = this.#note(species, observer);
      if (note) attributes.note = note;
      out.push(this.reading(ts, { count: this.#count(species), confidence: round(sure, 2) }, { species: species.name, location, attributes }));
    }
    return out;
  }
}

export default defineSimulator({
  kind: 'citizen-observation',
  domain: 'biodiversity',
  description:
    'Citizen science app (PERSONAL, SENSITIVE): named observers report species with exact locations and notes; includes a threatened orchid colony.',
  metrics: ['count', 'confidence'],
  configSchema,
  create: (opts) => new CitizenObservations(opts),
});
