/**
 * `river`: a stage gauge. The hub's river rises a few hours after rain (quickflow routed through
 * two linear reservoirs) on top of baseflow from the aquifer. The gauge measures stage; discharge
 * is derived from the measured stage through the site's rating curve Q = a (h - h0)^b, as a
 * hydrometric agency does.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class RiverSensor extends BaseSensor<Config> {
  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'river', 'water');
  }

  protected step(t: number): ReadingPayload[] {
    const { ratingA: a, ratingB: b, ratingH0: h0 } = this.config;
    const q = this.env.state(t).dischargeM3s * this.config.catchmentShare;
    const stage = round(clamp(h0 + Math.pow(q / a, 1 / b) + this.rng.normal(0, this.config.noiseM), -100, 1000), 3);
    const measured = stage > h0 ? a * Math.pow(stage - h0, b) : 0;
    return [this.reading(t, { river_stage: stage, discharge: round(measured, 3) })];
  }
}

export default defineSimulator({
  kind: 'river',
  domain: 'water',
  description: 'River stage gauge: stage responds to rain with a lag of hours; discharge from a rating curve.',
  metrics: ['river_stage', 'discharge'],
  configSchema,
  create: (opts) => new RiverSensor(opts),
});
