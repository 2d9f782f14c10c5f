/**
 * `battery`: the hub battery's management system. The energy balance is the hub's (environment
 * stock): it charges from PV and wind beyond community demand and discharges when demand exceeds
 * generation, within its power limit and capacity; with the grid up it keeps a reserve, off-grid
 * (grid-outage scenario) it may run empty.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

class BatterySensor extends BaseSensor<Config> {
  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'battery', 'energy');
  }

  protected step(t: number): ReadingPayload[] {
    const b = this.env.battery(t);
    return [this.reading(t, { battery_soc: round(clamp(b.socPct, 0, 100), 1), battery_energy: round(Math.max(0, b.energyWh), 0) })];
  }
}

export default defineSimulator({
  kind: 'battery',
  domain: 'energy',
  description: "Hub battery: state of charge (%) and stored energy (Wh), integrating the hub's generation minus demand.",
  metrics: ['battery_soc', 'battery_energy'],
  configSchema,
  create: (opts) => new BatterySensor(opts),
});
