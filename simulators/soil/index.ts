/**
 * `soil`: a soil station. A bucket model of the probe's layer under the hub's rain and
 * evapotranspiration: moisture jumps when it rains, drains back to field capacity within a day
 * and dries slowly by evapotranspiration (faster under the drought scenario). Soil temperature
 * is the air temperature damped and delayed with depth. CO2 flux is soil respiration with a Q10
 * temperature response and a moisture optimum; its heterotrophic part draws down the organic
 * carbon stock that litter and roots replenish, so soil_organic_carbon drifts slowly.
 */
import { BaseSensor, clamp, defineSimulator, loggerBatteryV, round } from '../define.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

const SUB_MS = 300_000;
const HOUR = 3_600_000;
const YEAR_S = 365.25 * 86_400;
/** g C per umol CO2. */
const G_C_PER_UMOL = 12.011e-6;
/** Depth over which soil organic carbon is reported, m. */
const SOC_DEPTH_M = 0.3;

class SoilSensor extends BaseSensor<Config> {
  #theta = 0;
  /** Soil organic carbon stock, g C/m2 over SOC_DEPTH_M. */
  #socG = 0;
  /** Mass of soil, g/m2 over SOC_DEPTH_M. */
  readonly #soilG: number;
  #integratedTo: number | undefined;

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'soil', 'soil');
    this.#soilG = this.config.bulkDensity * 1e6 * SOC_DEPTH_M;
    this.#socG = (this.config.initialSocPct / 100) * this.#soilG;
  }

  /** Soil temperature at the probe's depth: damping depth 10 cm for the daily cycle. */
  #soilTemperature(t: number): number {
    const env = this.env;
    const z = this.config.depthCm / 10;
    const lagMs = (z * 24 * HOUR) / (2 * Math.PI);
    const mean = env.dailyMeanTemperature(t - 12 * HOUR * z);
    const amp = env.params.climate.diurnalAmplitudeC * (1 - 0.6 * env.cloudCover(t - lagMs)) * Math.exp(-z);
    let temp = mean + 0.5 + amp * Math.cos((2 * Math.PI * (env.solarHour(t - lagMs) - 15)) / 24);
    if (temp < 0) temp *= 0.3; // snow and the soil's own heat keep it near freezing
    return temp;
  }

  /** Respiration, umol CO2/m2/s, at soil temperature and moisture. */
  #respiration(tempC: number, theta: number): number {
    const c = this.config;
    const rel = (theta - c.wiltingPoint) / (c.saturation - c.wiltingPoint);
    const dry = clamp(rel / 0.35, 0, 1);
    const wet = 1 - 0.6 * clamp((rel - 0.75) / 0.25, 0, 1);
    const moisture = Math.max(0.08, Math.min(dry, wet));
    return c.r10 * Math.pow(c.q10, (tempC - 10) / 10) * moisture;
  }

  /** Integrates water and carbon on a 5-minute grid up to `t`. */
  #advance(t: number): void {
    const c = this.config;
    const env = this.env;
    const k = 1 - Math.exp(-c.drainagePerH * (SUB_MS / HOUR));
    let m = this.#integratedTo ?? t;
    for (; m + SUB_MS <= t; m += SUB_MS) {
      const mid = m + SUB_MS / 2;
      let water = this.#theta * c.layerMm;
      water += env.rainfall(m, m + SUB_MS);
      const stress = clamp((this.#theta - c.wiltingPoint) / (0.7 * (c.fieldCapacity - c.wiltingPoint)), 0, 1);
      water -= env.pet(mid) * (SUB_MS / HOUR) * stress;
      let theta = clamp(water / c.layerMm, c.wiltingPoint * 0.6, c.saturation);
      if (theta > c.fieldCapacity) theta -= (theta - c.fieldCapacity) * k;
      this.#theta = theta;
      const rh = this.#respiration(this.#soilTemperature(mid), theta) * c.heterotrophicShare;
      this.#socG += ((c.carbonInputGm2yr / YEAR_S) - rh * G_C_PER_UMOL) * (SUB_MS / 1000);
    }
    this.#integratedTo = m;
  }

  protected step(t: number, previous: number | undefined): ReadingPayload[] {
    const c = this.config;
    if (previous === undefined) {
      const wet = clamp(this.env.state(t).soilWetness, 0, 1.3);
      this.#theta = clamp(c.wiltingPoint + wet * (c.fieldCapacity - c.wiltingPoint), c.wiltingPoint, c.saturation);
      this.#integratedTo = Math.floor((t - this.intervalS * 1000) / SUB_MS) * SUB_MS;
    }
    this.#advance(t);
    const temp = this.#soilTemperature(t);
    const flux = this.#respiration(temp, this.#theta) * Math.exp(this.rng.normal(0, 0.05));
    return [
      this.reading(
        t,
        {
          soil_moisture: round(clamp(this.#theta + this.rng.normal(0, 0.003), 0, 1), 3),
          soil_temperature: round(temp + this.rng.normal(0, 0.05), 2),
          soil_organic_carbon: round(clamp((100 * this.#socG) / this.#soilG + this.rng.normal(0, 0.005), 0, 100), 3),
          co2_flux: round(flux, 3),
        },
        { attributes: { battery_v: loggerBatteryV(this.env, t, this.rng) } },
      ),
    ];
  }
}

export default defineSimulator({
  kind: 'soil',
  domain: 'soil',
  description: 'Soil station: moisture (jumps after rain, dries by ET), damped soil temperature, slowly drifting organic carbon, CO2 flux.',
  metrics: ['soil_moisture', 'soil_temperature', 'soil_organic_carbon', 'co2_flux'],
  configSchema,
  create: (opts) => new SoilSensor(opts),
});
