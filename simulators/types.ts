/**
 * The simulator interface. A simulator is a *definition* (what kind of sensor, which domain,
 * which config) that *creates* simulated sensors; a simulated sensor turns simulated time into
 * native JSON payloads (core/reading.ts `nativeReadingSchema`), exactly what a real device would
 * publish on `csm/v1/{hub}/{domain}/{sensor}/data`.
 *
 * ```
 *  SimulatorDefinition ──create({ id, hub, site, seed, config, environment })──▶ SimulatedSensor
 *                                                                                  │ next(t₁) → [payload…]
 *  Environment (one per hub: sun, clouds, air temperature, rain, soil water,      │ next(t₂) → [payload…]
 *  aquifer, river, wind, PV, demand, battery, scenario) ◀── reads ─────────────────┘
 * ```
 *
 * Rules every simulator keeps (simulators/contract.ts checks them):
 * - Determinism: no `Math.random`, no `Date.now`. Randomness comes from the `seed` (see
 *   random.ts) and world state from the shared `environment`; time is passed in.
 * - `next(t)` is called with strictly increasing times, normally `intervalS` apart but possibly
 *   further apart (a runner slowing a fast simulation down skips steps). Quantities "over the
 *   reading's interval" (rainfall, withdrawal) cover everything since the previous call.
 * - Every payload validates against `nativeReadingSchema` and passes `parsePayload` for the
 *   simulator's domain: catalogue metrics of that domain in canonical units, within the catalogue's
 *   range; attributes only from `ATTRIBUTES` in core/catalogue.ts.
 * - `seq` strictly increases per sensor; `ts` (epoch ms) strictly increases and lies in
 *   (previous step, current step].
 */
import type { z } from 'zod';
import type { Domain } from '../core/ids.ts';
import type { NativeReading } from '../core/reading.ts';
import type { Environment } from './environment.ts';

/** One native JSON payload, as published on the data topic. `ts` is epoch milliseconds. */
export type ReadingPayload = NativeReading & { ts: number };

/**
 * The registration a simulated device is added with (`steward sim` registers its site and kind),
 * for `parsePayload`'s context: ingest refuses a payload whose ids differ from it.
 */
export const simRegistration = (p: ReadingPayload): { kind?: string; site?: string } => ({ ...(p.kind ? { kind: p.kind } : {}), ...(p.site ? { site: p.site } : {}) });

/** What `SimulatorDefinition.create` receives. */
export interface SimulatorCreateOptions<Config> {
  /** Sensor id (the `{sensor}` topic level). */
  id: string;
  /** Hub id. */
  hub: string;
  /** Site id for the storage tag; simulators put it in every payload when given. */
  site?: string;
  /** Seed for this sensor. Derive sub-streams with `Rng.derive(seed, 'label')`. */
  seed: number;
  /** The simulator's config, already validated by its `configSchema` (defaults filled in). */
  config: Config;
  /** The hub's shared world model. */
  environment: Environment;
}

/** A running simulated sensor. */
export interface SimulatedSensor {
  readonly id: string;
  /** The simulator kind, also sent as the payload's `kind` tag. */
  readonly kind: string;
  readonly domain: Domain;
  /** Simulated seconds between two readings. */
  readonly intervalS: number;
  /**
   * Advances the sensor to simulated time `simTimeMs` (epoch ms) and returns the readings it
   * produced since the previous call: usually one, none for a quiet detector, several for a busy one.
   */
  next(simTimeMs: number): ReadingPayload[];
}

/**
 * A kind of simulated sensor. `configSchema` is a strict zod object with a default for every
 * key, so `{}` is a valid config; it must include `intervalS`.
 */
export interface SimulatorDefinition<S extends z.ZodType = z.ZodType> {
  /** Registry key and payload `kind`, e.g. `groundwater` (an id: `^[a-z0-9][a-z0-9_-]{0,63}$`). */
  kind: string;
  domain: Domain;
  /** One line for `steward sim --list` and the README table. */
  description: string;
  /** Catalogue metrics this simulator emits. */
  metrics: readonly string[];
  configSchema: S;
  create(opts: SimulatorCreateOptions<z.output<S>>): SimulatedSensor;
}
