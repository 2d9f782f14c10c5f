/**
 * `rain-gauge`: a tipping-bucket gauge under the hub's storms. Reports the rain of the whole
 * tips since the previous reading, so it comes in multiples of the bucket size and no rain is
 * lost or counted twice across readings.
 */
import { BaseSensor, defineSimulator, loggerBatteryV, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class RainGaugeSensor extends BaseSensor<Config> {
  /** Rain caught since the sensor started, mm, and tips already reported. */
  #caught = 0;
  #tips = 0;

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'rain-gauge', 'water');
  }

  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    const from = previous ?? t - this.intervalS * 1000;
    this.#caught += this.env.rainfall(from, t) * this.config.catchFactor;
    const tips = Math.floor(this.#caught / this.config.tipMm + 1e-9);
    const rain = (tips - this.#tips) * this.config.tipMm;
    this.#tips = tips;
    return [this.reading(t, { rainfall: round(rain, 3) }, { attributes: { battery_v: loggerBatteryV(this.env, t, this.rng) } })];
  }
}

export default defineSimulator({
  kind: 'rain-gauge',
  domain: 'water',
  description: 'Tipping-bucket rain gauge: rainfall (mm) per interval from the hub\'s seeded storms.',
  metrics: ['rainfall'],
  configSchema,
  create: (opts) => new RainGaugeSensor(opts),
});
