/**
 * `community-demand`: the meter on the hub's community feeder. Morning and evening peaks on
 * weekdays, a later and flatter morning at weekends, a daytime plateau, electric heating when it
 * is cold and cooling when it is hot.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class CommunityDemandSensor extends BaseSensor<Config> {
  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'community-demand', 'energy');
  }

  protected step(t: number): ReadingPayload[] {
    const p = this.env.demandPower(t) * this.config.share * (1 + this.rng.normal(0, this.config.noise));
    return [this.reading(t, { demand_power: round(clamp(p, 0, 1e9), 0) })];
  }
}

export default defineSimulator({
  kind: 'community-demand',
  domain: 'energy',
  description: 'Community feeder meter: demand_power (W) with weekday/weekend morning and evening peaks and heating/cooling.',
  metrics: ['demand_power'],
  configSchema,
  create: (opts) => new CommunityDemandSensor(opts),
});
