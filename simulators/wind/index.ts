/**
 * `wind`: the meter of the hub's wind turbine. Wind speed is a seeded Weibull process (windier in
 * storms and in winter); power follows the turbine's curve: nothing below cut-in, a cubic rise to
 * rated power, shut-down above cut-out.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class WindSensor extends BaseSensor {
  readonly #c: Config;

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, { kind: 'wind', domain: 'energy', intervalS: opts.config.intervalS, location: opts.config.location });
    this.#c = opts.config;
  }

  protected step(t: number): ReadingPayload[] {
    const p = this.env.windPower(t) * this.#c.share;
    const noisy = p > 0 ? clamp(p * (1 + this.rng.normal(0, this.#c.noise)), 0, 1e9) : 0;
    return [this.reading(t, { wind_power: round(noisy, 0) })];
  }
}

export default defineSimulator({
  kind: 'wind',
  domain: 'energy',
  description: 'Wind turbine meter: wind_power (W) from a seeded wind-speed process and a power curve.',
  metrics: ['wind_power'],
  configSchema,
  create: (opts) => new WindSensor(opts),
});
