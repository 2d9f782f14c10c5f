/**
 * `wind`: the meter of the hub's wind turbine. Wind speed is a seeded Weibull process (windier in
 * storms and in winter); power follows the turbine's curve: nothing below cut-in, a cubic rise to
 * rated power, shut-down above cut-out.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class WindSensor extends BaseSensor<Config> {
  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'wind', 'energy');
  }

  protected step(t: number): ReadingPayload[] {
    const p = this.env.windPower(t) * this.config.share;
    const noisy = p > 0 ? clamp(p * (1 + this.rng.normal(0, this.config.noise)), 0, 1e9) : 0;
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
