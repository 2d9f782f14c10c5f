/**
 * TEMPLATE: a minimal simulator, heavily commented. Copy this folder to simulators/<your-kind>/,
 * replace 'template' with '<your-kind>' here and in index.test.ts, and register it with one line in
 * simulators/registered.ts (this template is deliberately NOT registered). The example: a
 * temperature probe in a garden pond.
 *
 * The three things a simulator does:
 * 1. Read the shared world from `this.env` (an Environment: one per hub, shared by every sensor
 *    so they agree: the same sun, clouds, air temperature, rain, soil water, aquifer, river, wind,
 *    PV, demand and battery). Never invent weather of your own.
 * 2. Keep whatever state it needs between steps (here, a lagged temperature) and draw noise from
 *    `this.rng` (seeded). Never call Math.random() or Date.now(): time is the `t` you are given,
 *    and the same seed + start time must give the same readings.
 * 3. Return payloads built with `this.reading(ts, metrics, extra)`: metrics named as in
 *    core/catalogue.ts, in the canonical unit, inside the catalogue's min/max; attributes only
 *    from ATTRIBUTES in core/catalogue.ts. `reading()` fills in seq, site, kind and location.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

/**
 * The sensor. Extending BaseSensor gives you `next(t)` with checks (times must increase),
 * `this.env`, `this.rng`, `this.seed`, `this.site`, `this.intervalS`, `this.config` (your validated
 * config, typed by `BaseSensor<Config>`) and `this.reading()`.
 */
class PondThermometer extends BaseSensor<Config> {
  /** State carried between steps: the pond's slowly following temperature, °C. */
  #pond: number | undefined;

  constructor(opts: SimulatorCreateOptions<Config>) {
    // kind = the registry key; domain = which commons (water, soil, energy, biodiversity).
    super(opts, 'template', 'water');
  }

  /**
   * Called once per step with the step's time `t` (epoch ms) and the previous step's time
   * (undefined the first time). Steps may be further apart than `intervalS` (a runner slows fast
   * simulations down by skipping steps): integrate over `t - previous`, not over `intervalS`.
   */
  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    const env = this.env;
    const dtDays = (t - (previous ?? t - this.intervalS * 1000)) / 86_400_000;
    // The pond relaxes towards the day's mean air temperature (exponential smoothing).
    const air = env.dailyMeanTemperature(t);
    this.#pond = this.#pond === undefined ? air : this.#pond + (air - this.#pond) * (1 - Math.exp(-dtDays / this.config.lagDays));
    // Sunshine warms the surface in the afternoon: irradiance two hours ago, 0..1.
    const sun = Math.min(1, env.irradiance(t - 2 * 3_600_000).ghi / 600);
    const water = this.#pond + this.config.diurnalAmplitudeC * sun + this.rng.normal(0, this.config.noiseC);
    // Keep values physical AND inside the catalogue's range (water_temperature: -5..100 Cel).
    return [this.reading(t, { water_temperature: round(clamp(water, 0, 40), 2) })];
  }
}

/**
 * The definition: what the registry, the fleet files, the README and `steward sim --list` see.
 * `metrics` must list every catalogue metric you emit (the registry test checks their domain).
 */
export default defineSimulator({
  kind: 'template',
  domain: 'water',
  description: 'TEMPLATE (not registered): a garden-pond thermometer following the air with a lag.',
  metrics: ['water_temperature'],
  configSchema,
  create: (opts) => new PondThermometer(opts),
});
