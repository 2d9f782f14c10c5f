/**
 * Building blocks for simulators: `defineSimulator` (type inference for a definition),
 * `simConfig` (the strict config schema every simulator starts from), `BaseSensor` (sequence
 * numbers, the site and kind tags, step bookkeeping) and `createSensor` (validate a config, then
 * create). See simulators/_template/ for how they fit together.
 */
import { z } from 'zod';
import type { Domain } from '../core/ids.ts';
import { type Location, locationSchema } from '../core/reading.ts';
import type { Environment } from './environment.ts';
import { SimulatorError } from './errors.ts';
import { Rng } from './random.ts';
import type { ReadingPayload, SimulatedSensor, SimulatorCreateOptions, SimulatorDefinition } from './types.ts';

/** Identity function that lets TypeScript infer the config type of a definition from its schema. */
export function defineSimulator<S extends z.ZodType>(def: SimulatorDefinition<S>): SimulatorDefinition<S> {
  return Object.freeze(def);
}

/**
 * A strict config schema with the keys every simulator shares, plus `shape`:
 * - `intervalS`: simulated seconds between readings (default `defaultIntervalS`);
 * - `location`: where the device stands; when set it is sent with every reading.
 * Unknown keys are rejected; every key of `shape` should have a default.
 */
export function simConfig<T extends z.ZodRawShape>(defaultIntervalS: number, shape: T) {
  return z.strictObject({
    intervalS: z.number().int().min(1).max(86_400).default(defaultIntervalS),
    location: locationSchema.optional(),
    ...shape,
  });
}

/** Rounds to `digits` decimals (and turns -0 into 0). */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(value * f) / f;
  return r === 0 ? 0 : r;
}

/** Clamps into [min, max]. */
export function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/**
 * Voltage of a field logger's Li-ion cell topped up by a small solar panel: it rises by day and
 * sags at night, V (3.4–4.2).
 */
export function loggerBatteryV(env: Environment, t: number, rng: Rng): number {
  const ghi = env.irradiance(t).ghi;
  return round(clamp(3.72 + 0.38 * Math.min(1, ghi / 500) + rng.normal(0, 0.01), 3.4, 4.2), 2);
}

/** The config keys every simulator shares ({@link simConfig}): the sensor's interval and location. */
export interface SharedSimConfig {
  intervalS: number;
  location?: Location | undefined;
}

/**
 * Base class for simulated sensors. Subclasses implement `step(t, previous)`, build payloads with
 * `reading(ts, metrics, extra)` (which assigns `seq`, `site`, `kind` and the configured location)
 * and keep any state they integrate between steps. `next(t)` enforces increasing times.
 */
export abstract class BaseSensor<C extends SharedSimConfig = SharedSimConfig> implements SimulatedSensor {
  readonly id: string;
  readonly kind: string;
  readonly domain: Domain;
  readonly intervalS: number;
  protected readonly hub: string;
  protected readonly site: string | undefined;
  protected readonly env: Environment;
  /** This sensor's own random stream. */
  protected readonly rng: Rng;
  protected readonly seed: number;
  protected readonly location: Location | undefined;
  /** The simulator's config, validated (defaults filled in). */
  protected readonly config: C;
  #seq = 0;
  #last: number | undefined;

  /** `kind`: the registry key, also the payload's `kind` tag; `domain`: the commons it measures. */
  constructor(opts: SimulatorCreateOptions<C>, kind: string, domain: Domain) {
    this.id = opts.id;
    this.hub = opts.hub;
    this.site = opts.site;
    this.env = opts.environment;
    this.seed = opts.seed;
    this.rng = Rng.derive(opts.seed, 'sensor');
    this.kind = kind;
    this.domain = domain;
    this.config = opts.config;
    this.intervalS = opts.config.intervalS;
    this.location = opts.config.location;
  }

  /** Simulated time of the previous call, or undefined before the first. */
  protected get lastTime(): number | undefined {
    return this.#last;
  }

  next(simTimeMs: number): ReadingPayload[] {
    if (!Number.isFinite(simTimeMs)) throw new RangeError(`${this.id}: simulated time must be a finite epoch ms`);
    if (this.#last !== undefined && simTimeMs <= this.#last) {
      throw new RangeError(`${this.id}: next(${simTimeMs}) is not after the previous step ${this.#last}`);
    }
    const prev = this.#last;
    this.#last = simTimeMs;
    return this.step(simTimeMs, prev);
  }

  /**
   * Produces the readings for the step ending at `t`. `previous` is the previous step's time
   * (undefined on the first call; treat the first step as covering one interval).
   */
  protected abstract step(t: number, previous: number | undefined): ReadingPayload[];

  /** A payload with the next `seq`, the site, the kind and (when configured) the location. */
  protected reading(
    ts: number,
    metrics: Record<string, number>,
    extra: { species?: string; location?: Location; attributes?: Record<string, string | number | boolean> } = {},
  ): ReadingPayload {
    const p: ReadingPayload = { ts: Math.round(ts), seq: this.#seq++, kind: this.kind, metrics };
    if (this.site !== undefined) p.site = this.site;
    if (extra.species !== undefined) p.species = extra.species;
    const loc = extra.location ?? this.location;
    if (loc) p.location = loc;
    if (extra.attributes && Object.keys(extra.attributes).length > 0) p.attributes = extra.attributes;
    return p;
  }
}

/**
 * Validates `config` with the definition's schema and creates the sensor.
 * Throws SimulatorError `SIM_ERR_CONFIG` naming the sensor and the key at fault.
 */
export function createSensor(
  def: SimulatorDefinition,
  opts: Omit<SimulatorCreateOptions<unknown>, 'config'> & { config?: unknown },
): SimulatedSensor {
  const parsed = def.configSchema.safeParse(opts.config ?? {});
  if (!parsed.success) {
    const msg = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ');
    throw new SimulatorError('SIM_ERR_CONFIG', `sensor "${opts.id}" (${def.kind}): ${msg}`);
  }
  return def.create({ ...opts, config: parsed.data });
}

/**
 * A uniformly random point within `radiusKm` of (lat, lon), rounded to 6 decimals (~0.1 m):
 * exact enough to be a house or a plant.
 */
export function randomPointNear(lat: number, lon: number, radiusKm: number, rng: Rng): { lat: number; lon: number } {
  const r = radiusKm * Math.sqrt(rng.next());
  const a = rng.uniform(0, 2 * Math.PI);
  const dLat = (r * Math.cos(a)) / 111.32;
  const dLon = (r * Math.sin(a)) / (111.32 * Math.cos((lat * Math.PI) / 180));
  return { lat: round(clamp(lat + dLat, -90, 90), 6), lon: round(clamp(lon + dLon, -180, 180), 6) };
}
