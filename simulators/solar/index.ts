/**
 * `solar`: the meter of a PV inverter. Output follows the sun's elevation and azimuth on a
 * tilted array (solar geometry), attenuated by the hub's clouds and by heat: zero at night,
 * highest near solar noon on clear days.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class SolarSensor extends BaseSensor<Config> {
  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'solar', 'energy');
  }

  protected step(t: number): ReadingPayload[] {
    const c = this.config;
    const p = c.capacityW !== undefined ? this.env.pvOutput(t, c.capacityW, c.tiltDeg, c.azimuthDeg) : this.env.pvPower(t) * c.share;
    const noisy = p > 0 ? clamp(p * (1 + this.rng.normal(0, c.noise)), 0, 1e9) : 0;
    return [this.reading(t, { pv_power: round(noisy, 0) })];
  }
}

export default defineSimulator({
  kind: 'solar',
  domain: 'energy',
  description: 'PV inverter meter: pv_power (W) from sun elevation, clouds and temperature; zero at night.',
  metrics: ['pv_power'],
  configSchema,
  create: (opts) => new SolarSensor(opts),
});
