/**
 * `groundwater`: a production well with a piezometer. The level follows the hub's regional
 * aquifer head (recharged by rain a few days after it falls, drawn down by abstraction) minus the
 * well's own drawdown: a cone that deepens while the pump runs on its daily schedule and recovers
 * when it stops. `withdrawal` is the volume pumped since the previous reading.
 */
import { BaseSensor, defineSimulator, loggerBatteryV, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

const MINUTE = 60_000;

class GroundwaterSensor extends BaseSensor<Config> {
  /** Current drawdown in the well, m. */
  #drawdown = 0;
  /** Time up to which #drawdown is integrated (a whole minute). */
  #integratedTo: number | undefined;

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'groundwater', 'water');
  }

  /** Whether the pump runs at `t`: inside a scheduled window, stretched by the scenario's pumping factor. */
  #pumping(t: number): boolean {
    if (this.config.pumpRateM3h <= 0) return false;
    const h = this.env.localHour(t);
    const f = this.env.modifiers(t).pumpingFactor;
    for (const [from, to] of this.config.schedule) {
      const len = Math.min(24, (to - from) * f);
      if ((h >= from && h < from + len) || (h + 24 >= from && h + 24 < from + len)) return true;
    }
    return false;
  }

  /** Integrates drawdown and pumped volume minute by minute up to `t`; returns m3 pumped. */
  #advance(t: number): number {
    const k = 1 - Math.exp(-1 / this.config.responseMin);
    const steady = this.config.pumpRateM3h * this.config.drawdownPerM3h;
    let volume = 0;
    let m = this.#integratedTo ?? t;
    for (; m + MINUTE <= t; m += MINUTE) {
      const on = this.#pumping(m + MINUTE / 2);
      this.#drawdown += ((on ? steady : 0) - this.#drawdown) * k;
      if (on) volume += this.config.pumpRateM3h / 60;
    }
    this.#integratedTo = m;
    return volume;
  }

  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    if (previous === undefined) {
      // Warm up: a day of pumping history so the first reading already shows the daily cycle.
      this.#integratedTo = Math.floor((t - 86_400_000) / MINUTE) * MINUTE;
      this.#advance(t - this.intervalS * 1000);
    }
    const volume = this.#advance(t);
    const level = this.env.aquiferHead(t) + this.config.headOffsetM - this.#drawdown + this.rng.normal(0, this.config.noiseM);
    const metrics: Record<string, number> = { groundwater_level: round(level, 3) };
    if (this.config.pumpRateM3h > 0) metrics.withdrawal = round(volume, 2);
    return [this.reading(t, metrics, { attributes: { battery_v: loggerBatteryV(this.env, t, this.rng) } })];
  }
}

export default defineSimulator({
  kind: 'groundwater',
  domain: 'water',
  description: 'Pumped well with a piezometer: level (m above datum) with recharge after rain and daily pumping drawdown; withdrawal per interval.',
  metrics: ['groundwater_level', 'withdrawal'],
  configSchema,
  create: (opts) => new GroundwaterSensor(opts),
});
