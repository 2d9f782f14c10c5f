/**
 * `water-quality`: a sonde in the hub's river. Water temperature follows the daily-mean air
 * temperature with a lag of days plus a small afternoon maximum; dissolved oxygen is the
 * saturation value at that temperature (Benson–Krause) raised by daytime photosynthesis and
 * lowered by night respiration and storm water; turbidity spikes on the rising limb of a flood;
 * nitrate is diluted by storm runoff and higher in winter; pH rises by day as plants take up CO2.
 */
import { BaseSensor, clamp, defineSimulator, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

const HOUR = 3_600_000;

/** Oxygen solubility in fresh water at 1 atm, mg/l (APHA polynomial, 0–40 °C). */
export function oxygenSaturation(tempC: number): number {
  const t = clamp(tempC, 0, 40);
  return 14.62 - 0.3898 * t + 0.006969 * t * t - 0.00005897 * t * t * t;
}

class WaterQualitySensor extends BaseSensor<Config> {
  #meanTemp: number | undefined;

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'water-quality', 'water');
  }

  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    const env = this.env;
    const dtDays = ((previous === undefined ? this.intervalS * 1000 : t - previous) / 86_400_000);
    const air = env.dailyMeanTemperature(t);
    this.#meanTemp = this.#meanTemp === undefined ? air : this.#meanTemp + (air - this.#meanTemp) * (1 - Math.exp(-dtDays / this.config.thermalLagDays));
    const sunLagged = Math.min(1, env.irradiance(t - 2 * HOUR).ghi / 600);
    const water = clamp(this.#meanTemp + 1.2 * sunLagged + this.rng.normal(0, 0.03), 0.1, 35);

    const now = env.state(t);
    const hourAgo = env.state(t - HOUR);
    const base = Math.max(1e-3, now.baseflowM3s);
    const ratio = Math.max(1, now.dischargeM3s / base);
    const rising = Math.max(0, (now.dischargeM3s - hourAgo.dischargeM3s) / base);
    const stormy = Math.min(1, (ratio - 1) / 4);

    const turbidity = clamp(
      (this.config.baseTurbidityNtu * Math.pow(ratio, 1.3) + 40 * rising) * Math.exp(this.rng.normal(0, 0.05)),
      0,
      4000,
    );
    const night = env.sun(t).elevationDeg < -3 ? 1 : 0;
    const doPct = 0.93 + 0.12 * sunLagged - 0.05 * night - 0.05 * stormy;
    const dissolvedOxygen = clamp(oxygenSaturation(water) * doPct + this.rng.normal(0, 0.03), 0, 20);
    const winter = (1 - env.season(t)) / 2; // 0 in summer, 1 in winter
    const nitrate = clamp(
      this.config.baseNitrateMgL * (0.7 + 0.3 * winter) * (0.55 + 0.45 / ratio) + 1.5 * stormy * Math.max(0, now.soilWetness) + this.rng.normal(0, 0.05),
      0,
      500,
    );
    const ph = clamp(this.config.basePh + 0.35 * sunLagged - 0.25 * stormy + this.rng.normal(0, 0.01), 5.5, 9.5);

    return [
      this.reading(t, {
        water_temperature: round(water, 2),
        dissolved_oxygen: round(dissolvedOxygen, 2),
        turbidity: round(turbidity, 1),
        nitrate: round(nitrate, 2),
        ph: round(ph, 2),
      }),
    ];
  }
}

export default defineSimulator({
  kind: 'water-quality',
  domain: 'water',
  description: 'River water-quality sonde: temperature, dissolved oxygen (diurnal), turbidity (storm spikes), nitrate, pH.',
  metrics: ['water_temperature', 'dissolved_oxygen', 'turbidity', 'nitrate', 'ph'],
  configSchema,
  create: (opts) => new WaterQualitySensor(opts),
});
