/**
 * The shared world model of one hub. Every simulated sensor of a hub reads the same Environment,
 * so they agree with each other: the rain gauge's storm is the one that wets the soil probes,
 * raises the river a few hours later and recharges the aquifer over the following days; the PV
 * output the solar meter reports is the one charging the battery.
 *
 * Two kinds of quantity:
 * - **Drivers**, pure functions of time (random-access, see random.ts `noiseAt`): sun position,
 *   cloud cover, air temperature, wind speed, storms and rain rate, potential evapotranspiration,
 *   PV and wind generation, community demand.
 * - **Stocks**, integrated forward on a fixed 5-minute grid from a spin-up period before the
 *   start: the reference soil water store, the unsaturated zone, the aquifer head, the river's
 *   quickflow reservoirs and the hub battery. They are advanced lazily when asked for, so the
 *   answer never depends on which sensor asked first.
 *
 * Local times: physical cycles (the sun, air temperature) follow local solar time from the
 * longitude; human cycles (demand, pumping schedules, observers) follow the clock at `utcOffsetH`
 * (standard time; no daylight saving).
 */
import { z } from 'zod';
import { SimulatorError } from './errors.ts';
import { Rng, hashSeed, noiseAt, normalCdf } from './random.ts';
import { type EnvironmentModifiers, type ScenarioDefinition, getScenario, resolveModifiers } from './scenarios.ts';
import { type SunPosition, type SunTimes, sunPosition, sunTimes } from './solar-geometry.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DEG = Math.PI / 180;

/** Parameters of a hub's world. Every key has a default: an upland valley in northern England. */
export const environmentParamsSchema = z.strictObject({
  /** Degrees north (polar latitudes are out of scope for the climate model). */
  latitude: z.number().min(-66).max(66).default(54.15),
  /** Degrees east. */
  longitude: z.number().min(-180).max(180).default(-2.05),
  elevationM: z.number().min(-400).max(5000).default(250),
  /** Offset of the hub's clock from UTC, hours (standard time). */
  utcOffsetH: z.number().min(-12).max(14).default(0),
  climate: z
    .strictObject({
      /** Annual mean air temperature, °C. */
      meanTempC: z.number().min(-20).max(35).default(8.5),
      /** Half the difference between the warmest and coldest month, °C. */
      seasonalAmplitudeC: z.number().min(0).max(30).default(6.5),
      /** Half the day-night difference on a clear day, °C. */
      diurnalAmplitudeC: z.number().min(0).max(20).default(4.5),
      /** Standard deviation of the multi-day weather anomaly, °C. */
      anomalySdC: z.number().min(0).max(10).default(2.5),
      /** Mean number of storms (rain events) per day. */
      stormsPerDay: z.number().min(0).max(10).default(0.45),
      /** Mean storm duration, hours. */
      meanStormHours: z.number().positive().max(48).default(6),
      /** Mean rain intensity during a storm, mm/h. */
      meanIntensityMmH: z.number().positive().max(50).default(1.8),
      /** Mean cloud cover, 0–1. */
      meanCloudCover: z.number().min(0.05).max(0.95).default(0.65),
      /** Mean wind speed at hub height, m/s (Weibull distributed). */
      meanWindMs: z.number().min(0.5).max(20).default(6.5),
      windWeibullK: z.number().min(1).max(4).default(2),
    })
    .prefault({}),
  soil: z
    .strictObject({
      /** Root-zone water at field capacity, mm. */
      fieldCapacityMm: z.number().positive().default(120),
      /** Root-zone water at the wilting point, mm. */
      wiltingPointMm: z.number().positive().default(40),
      /** Root-zone water at saturation, mm. */
      saturationMm: z.number().positive().default(170),
      /** Fraction of the water above field capacity that drains per hour. */
      drainagePerH: z.number().positive().max(1).default(0.04),
    })
    .refine((s) => s.wiltingPointMm < s.fieldCapacityMm && s.fieldCapacityMm < s.saturationMm, 'need wiltingPointMm < fieldCapacityMm < saturationMm')
    .prefault({}),
  aquifer: z
    .strictObject({
      /** Head at the start of the spin-up, m above datum. */
      initialHeadM: z.number().default(42),
      /** Head of the river the aquifer drains to, m above datum. */
      riverHeadM: z.number().default(37),
      specificYield: z.number().min(0.005).max(0.4).default(0.05),
      areaKm2: z.number().positive().default(1.5),
      /** Total abstraction from all the hub's wells in normal use, m3/day. */
      abstractionM3PerDay: z.number().min(0).default(720),
      /** Baseflow to the river per metre of head above it, mm/day. */
      baseflowMmPerDayPerM: z.number().min(0).default(0.07),
      /** Residence time of drainage in the unsaturated zone before it recharges the aquifer, hours. */
      unsaturatedLagH: z.number().positive().default(48),
    })
    .prefault({}),
  river: z
    .strictObject({
      catchmentKm2: z.number().positive().default(40),
      /** Time constant of each of the two quickflow reservoirs in series, hours (sets the lag). */
      quickflowLagH: z.number().positive().default(6),
    })
    .prefault({}),
  energy: z
    .strictObject({
      pvCapacityW: z.number().min(0).default(60_000),
      pvTiltDeg: z.number().min(0).max(90).default(35),
      /** Degrees clockwise from north (180 = facing south). */
      pvAzimuthDeg: z.number().min(0).max(360).default(180),
      windRatedW: z.number().min(0).default(30_000),
      windCutInMs: z.number().positive().default(3),
      windRatedMs: z.number().positive().default(12),
      windCutOutMs: z.number().positive().default(25),
      /** Community demand that never goes away (fridges, pumps, street lights), W. */
      demandBaseW: z.number().min(0).default(6_000),
      /** Height of the evening peak above the base, W (the morning and daytime peaks scale with it). */
      demandPeakW: z.number().min(0).default(10_000),
      /** Electric heating per °C of daily-mean temperature below 15.5 °C (set back to 40 % at night), W. */
      heatingWPerC: z.number().min(0).default(600),
      /** Cooling per °C above 24 °C, W. */
      coolingWPerC: z.number().min(0).default(800),
      batteryCapacityWh: z.number().positive().default(200_000),
      batteryMaxPowerW: z.number().positive().default(50_000),
      /** Round-trip efficiency, 0–1. */
      batteryEfficiency: z.number().min(0.5).max(1).default(0.92),
      /** State of charge kept in reserve while the grid is up, %. */
      batteryReservePct: z.number().min(0).max(100).default(10),
      batteryInitialSocPct: z.number().min(0).max(100).default(60),
    })
    .prefault({}),
});
export type EnvironmentParams = z.output<typeof environmentParamsSchema>;
export type EnvironmentParamsInput = z.input<typeof environmentParamsSchema>;

export interface EnvironmentOptions {
  hub: string;
  seed: number;
  /** Simulated start, epoch ms. Stocks are spun up from `spinUpDays` before it. */
  startMs: number;
  params?: EnvironmentParamsInput;
  /** A scenario name from SCENARIOS, or a definition. */
  scenario?: string | ScenarioDefinition;
  /** When the scenario begins, epoch ms; default `startMs`. */
  scenarioStartMs?: number;
  /** Days of spin-up before `startMs` (default 14). */
  spinUpDays?: number;
  /**
   * Moves the world's calendar by this much (ms, default 0): seasons (temperature, clouds, storms,
   * which species are about) are those of `t + seasonShiftMs`; the sun keeps the real date. A
   * scenario that needs summer (a heatwave) plays in summer whatever today's date.
   */
  seasonShiftMs?: number;
}

export interface Irradiance {
  /** Global horizontal irradiance, W/m2. */
  ghi: number;
  /** Direct normal irradiance, W/m2. */
  dni: number;
  /** Diffuse horizontal irradiance, W/m2. */
  dhi: number;
}

export interface Storm {
  startMs: number;
  endMs: number;
  /** Mean intensity over the storm, mm/h. */
  intensityMmH: number;
}

/** The integrated stocks at an instant (linearly interpolated between 5-minute grid points). */
export interface EnvironmentState {
  /** Reference root-zone water, mm. */
  soilWaterMm: number;
  /** Relative wetness of the reference soil: 0 at the wilting point, 1 at field capacity (up to ~1.6 when saturated). */
  soilWetness: number;
  /** Water on its way through the unsaturated zone, mm. */
  unsaturatedMm: number;
  /** Recharge reaching the aquifer, mm/h. */
  rechargeMmH: number;
  /** Regional aquifer head, m above datum. */
  aquiferHeadM: number;
  /** River discharge at the catchment outlet, m3/s. */
  dischargeM3s: number;
  /** Its groundwater-fed part, m3/s. */
  baseflowM3s: number;
  /** Energy in the hub battery, Wh. */
  batteryWh: number;
}

const STEP_MS = 300_000;
const STEP_H = STEP_MS / HOUR_MS;
const STORM_BLOCK_MS = 6 * HOUR_MS;
const MAX_STORM_MS = 24 * HOUR_MS;
const RETAIN_STEPS = (14 * DAY_MS) / STEP_MS;
/** State fields stored per grid step, in this order. */
const F = { soil: 0, unsat: 1, recharge: 2, head: 3, q1: 4, q2: 5, quick: 6, base: 7, battery: 8 } as const;
const NF = 9;

/** Gaussian bump on a 24-hour circle. */
export function circularGauss(hour: number, centre: number, sd: number): number {
  let d = Math.abs(hour - centre) % 24;
  if (d > 12) d = 24 - d;
  return Math.exp((-d * d) / (2 * sd * sd));
}

/** The shared, seeded world model of one hub. Create with {@link createEnvironment}. */
export class Environment {
  readonly hub: string;
  readonly seed: number;
  readonly startMs: number;
  readonly params: Readonly<EnvironmentParams>;
  readonly scenario: ScenarioDefinition | undefined;
  readonly scenarioStartMs: number;
  readonly seasonShiftMs: number;
  readonly #spinStartStep: number;
  /** Ring buffer of grid states; #frontier is the last step computed. */
  readonly #ring = new Float64Array(RETAIN_STEPS * NF);
  #frontier: number;
  readonly #storms = new Map<number, Storm[]>();
  readonly #sunTimes = new Map<number, SunTimes>();
  readonly #weibullScale: number;
  readonly #cloudBias: number;

  constructor(opts: EnvironmentOptions) {
    const parsed = environmentParamsSchema.safeParse(opts.params ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new SimulatorError('SIM_ERR_CONFIG', `environment ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`);
    }
    this.params = Object.freeze(parsed.data);
    this.hub = opts.hub;
    this.seed = hashSeed(opts.seed, 'environment', opts.hub);
    this.startMs = opts.startMs;
    this.scenario = typeof opts.scenario === 'string' ? getScenario(opts.scenario) : opts.scenario;
    this.scenarioStartMs = opts.scenarioStartMs ?? opts.startMs;
    this.seasonShiftMs = opts.seasonShiftMs ?? 0;
    const spinUpDays = opts.spinUpDays ?? 14;
    this.#spinStartStep = Math.floor((opts.startMs - spinUpDays * DAY_MS) / STEP_MS);
    const c = this.params.climate;
    // Weibull scale from the mean: mean = λ Γ(1 + 1/k).
    this.#weibullScale = c.meanWindMs / gamma(1 + 1 / c.windWeibullK);
    this.#cloudBias = Math.log(c.meanCloudCover / (1 - c.meanCloudCover)) / 1.7;
    this.#frontier = this.#spinStartStep;
    this.#initialState(this.#spinStartStep);
  }

  // ---------------------------------------------------------------- time and sun

  /** Local clock hour (0–24) at `utcOffsetH`. */
  localHour(t: number): number {
    return ((((t / HOUR_MS + this.params.utcOffsetH) % 24) + 24) % 24);
  }

  /** Local mean solar hour (0–24): 12 is (about) when the sun is highest. */
  solarHour(t: number): number {
    return ((((t / HOUR_MS + this.params.longitude / 15) % 24) + 24) % 24);
  }

  /** Local day of the week, 0 = Sunday. */
  dayOfWeek(t: number): number {
    return new Date(t + this.params.utcOffsetH * HOUR_MS).getUTCDay();
  }

  isWeekend(t: number): boolean {
    const d = this.dayOfWeek(t);
    return d === 0 || d === 6;
  }

  /** Local day number since the epoch (changes at local midnight). */
  localDay(t: number): number {
    return Math.floor((t + this.params.utcOffsetH * HOUR_MS) / DAY_MS);
  }

  /** Fraction of the year (0–1) since 1 January (of the world's calendar: see `seasonShiftMs`). */
  yearFraction(t: number): number {
    t += this.seasonShiftMs;
    const d = new Date(t);
    const y0 = Date.UTC(d.getUTCFullYear(), 0, 1);
    const y1 = Date.UTC(d.getUTCFullYear() + 1, 0, 1);
    return (t - y0) / (y1 - y0);
  }

  /**
   * A seasonal cosine: 1 at the height of the hemisphere's summer (late July in the north),
   * -1 in late January.
   */
  season(t: number): number {
    const s = -Math.cos(2 * Math.PI * (this.yearFraction(t) - 20 / 365));
    return this.params.latitude >= 0 ? s : -s;
  }

  sun(t: number): SunPosition {
    return sunPosition(t, this.params.latitude, this.params.longitude);
  }

  /** Sunrise, solar noon and sunset of the local day containing `t`. */
  sunTimes(t: number): SunTimes {
    const day = this.localDay(t);
    let st = this.#sunTimes.get(day);
    if (!st) {
      st = sunTimes(t, this.params.latitude, this.params.longitude, this.params.utcOffsetH);
      if (this.#sunTimes.size > 64) this.#sunTimes.clear();
      this.#sunTimes.set(day, st);
    }
    return st;
  }

  /** The scenario's modifiers in force at `t`. */
  modifiers(t: number): EnvironmentModifiers {
    return resolveModifiers(this.scenario, t - this.scenarioStartMs);
  }

  // ---------------------------------------------------------------- weather drivers

  /** Cloud cover, 0–1 (overcast while it rains). */
  cloudCover(t: number): number {
    const z = 0.8 * noiseAt(this.seed, 'cloud-slow', t, 5 * HOUR_MS) + 0.45 * noiseAt(this.seed, 'cloud-fast', t, 50 * 60_000);
    let c = 1 / (1 + Math.exp(-1.7 * (z + this.#cloudBias - 0.25 * this.season(t))));
    const rain = this.rainRate(t);
    if (rain > 0) c = Math.max(c, 0.85 + 0.15 * Math.min(1, rain / 2));
    return Math.min(1, Math.max(0, c * this.modifiers(t).cloudFactor));
  }

  /** Solar irradiance at the surface under the current clouds (clear-sky Meinel model, Kasten–Czeplak cloud attenuation). */
  irradiance(t: number): Irradiance {
    const e = this.sun(t).elevationDeg;
    if (e <= 0) return { ghi: 0, dni: 0, dhi: 0 };
    const sinE = Math.sin(e * DEG);
    const airMass = 1 / (sinE + 0.50572 * Math.pow(e + 6.07995, -1.6364));
    const dniClear = 1361 * Math.pow(0.7, Math.pow(airMass, 0.678));
    const ghiClear = dniClear * sinE * 1.1;
    const c = this.cloudCover(t);
    const ghi = ghiClear * (1 - 0.75 * Math.pow(c, 3.4));
    const kd = Math.min(1, 0.1 + 0.85 * Math.pow(c, 1.5));
    const dhi = ghi * kd;
    const dni = sinE > 0.02 ? (ghi - dhi) / sinE : 0;
    return { ghi, dni, dhi };
  }

  /** Air temperature at 2 m, °C. */
  airTemperature(t: number): number {
    const c = this.params.climate;
    const seasonal = c.meanTempC + c.seasonalAmplitudeC * this.season(t);
    const diurnal = c.diurnalAmplitudeC * (1 - 0.6 * this.cloudCover(t)) * Math.cos((2 * Math.PI * (this.solarHour(t) - 15)) / 24);
    const anomaly = c.anomalySdC * noiseAt(this.seed, 'temp-anomaly', t, 3 * DAY_MS);
    const rainCooling = -1.5 * Math.min(1, this.rainRate(t));
    return seasonal + diurnal + anomaly + rainCooling + this.modifiers(t).temperatureOffsetC;
  }

  /** The smooth, daily-mean part of the air temperature (no diurnal cycle), °C: what deep soil and rivers follow. */
  dailyMeanTemperature(t: number): number {
    const c = this.params.climate;
    return c.meanTempC + c.seasonalAmplitudeC * this.season(t) + c.anomalySdC * noiseAt(this.seed, 'temp-anomaly', t, 3 * DAY_MS) + this.modifiers(t).temperatureOffsetC;
  }

  /** Wind speed at hub height, m/s (a Weibull-distributed process, windier in storms and in winter). */
  windSpeed(t: number): number {
    const c = this.params.climate;
    const z = (0.85 * noiseAt(this.seed, 'wind-slow', t, 6 * HOUR_MS) + 0.5 * noiseAt(this.seed, 'wind-gust', t, 40 * 60_000)) / 0.986;
    const storm = 0.8 * Math.min(1, this.rainRate(t) / 2);
    const u = Math.min(1 - 1e-9, Math.max(1e-9, normalCdf(z + storm)));
    const scale = this.#weibullScale * (1 - 0.12 * this.season(t)) * (1 + 0.08 * Math.sin((2 * Math.PI * (this.solarHour(t) - 8)) / 24));
    const v = scale * Math.pow(-Math.log(1 - u), 1 / c.windWeibullK);
    return Math.min(45, v * this.modifiers(t).windFactor);
  }

  /** The storms starting in 6-hour block `b` (seeded Poisson arrivals, exponential durations and intensities). */
  #stormsInBlock(b: number): Storm[] {
    let list = this.#storms.get(b);
    if (list) return list;
    const c = this.params.climate;
    const blockStart = b * STORM_BLOCK_MS;
    const s = this.season(blockStart + STORM_BLOCK_MS / 2);
    const rng = Rng.derive(this.seed, 'storms', b);
    // Summer: slightly fewer, shorter, more intense (convective) storms; winter: long frontal rain.
    const rate = c.stormsPerDay * (1 - 0.1 * s) * (STORM_BLOCK_MS / DAY_MS);
    const n = rng.poisson(rate);
    list = [];
    for (let i = 0; i < n; i++) {
      const startMs = blockStart + Math.floor(rng.next() * STORM_BLOCK_MS);
      const hours = Math.min(MAX_STORM_MS / HOUR_MS, Math.max(1 / 3, rng.exponential(1 / (c.meanStormHours * (1 - 0.3 * s)))));
      let intensityMmH = Math.min(30, rng.exponential(1 / (c.meanIntensityMmH * (1 + 0.45 * s))));
      // Long storms are not also intense ones: no single storm brings more than 60 mm.
      intensityMmH = Math.min(intensityMmH, 60 / hours);
      const keep = rng.next();
      const f = this.modifiers(startMs).rainFactor;
      if (keep >= f) continue; // thinned out by the scenario (f < 1)
      if (f > 1) intensityMmH = Math.min(60, intensityMmH * f);
      list.push({ startMs, endMs: startMs + Math.round(hours * HOUR_MS), intensityMmH });
    }
    if (this.#storms.size > 2048) this.#storms.clear();
    this.#storms.set(b, list);
    return list;
  }

  /** Storms overlapping [fromMs, toMs). */
  storms(fromMs: number, toMs: number): Storm[] {
    const out: Storm[] = [];
    const b0 = Math.floor((fromMs - MAX_STORM_MS) / STORM_BLOCK_MS);
    const b1 = Math.floor(toMs / STORM_BLOCK_MS);
    for (let b = b0; b <= b1; b++) {
      for (const s of this.#stormsInBlock(b)) if (s.startMs < toMs && s.endMs > fromMs) out.push(s);
    }
    return out;
  }

  #stormRate(s: Storm, t: number): number {
    if (t < s.startMs || t >= s.endMs) return 0;
    const frac = (t - s.startMs) / (s.endMs - s.startMs);
    // A rounded profile (mean 1) with bursts every quarter of an hour or so.
    const shape = Math.sqrt(Math.sin(Math.PI * frac)) / 0.874;
    const burst = Math.max(0, 1 + 0.5 * noiseAt(this.seed, 'rain-burst', t, 15 * 60_000));
    return s.intensityMmH * shape * burst;
  }

  /** Rain rate, mm/h. */
  rainRate(t: number): number {
    let r = 0;
    for (const s of this.storms(t, t + 1)) r += this.#stormRate(s, t);
    return r;
  }

  /**
   * Rain depth over [fromMs, toMs), mm. Integrated on a fixed one-minute grid of absolute time,
   * so rainfall(a, b) + rainfall(b, c) = rainfall(a, c) for whole-minute a, b, c.
   */
  rainfall(fromMs: number, toMs: number): number {
    if (toMs <= fromMs) return 0;
    let total = 0;
    for (const s of this.storms(fromMs, toMs)) {
      const a = Math.max(fromMs, s.startMs);
      const b = Math.min(toMs, s.endMs);
      for (let m = Math.floor(a / 60_000) * 60_000; m < b; m += 60_000) {
        const lo = Math.max(a, m);
        const hi = Math.min(b, m + 60_000);
        if (hi > lo) total += (this.#stormRate(s, m + 30_000) * (hi - lo)) / HOUR_MS;
      }
    }
    return total;
  }

  /** Potential evapotranspiration, mm/h (Hargreaves radiation form, driven by irradiance and temperature). */
  pet(t: number): number {
    const ghi = this.irradiance(t).ghi;
    if (ghi <= 0) return 0;
    const rsMmH = ghi * 0.0036 * 0.408; // W/m2 -> MJ/m2/h -> mm/h of evaporation equivalent
    return 0.0135 * Math.max(0, this.airTemperature(t) + 17.8) * rsMmH * this.modifiers(t).petFactor;
  }

  // ---------------------------------------------------------------- energy drivers

  /**
   * Output of a PV array under the current sun, clouds and temperature, W: plane-of-array
   * irradiance from the direct and diffuse parts, a -0.4 %/°C temperature coefficient and 5 %
   * system losses. Exactly 0 while the sun is down.
   */
  pvOutput(t: number, capacityW: number, tiltDeg = this.params.energy.pvTiltDeg, azimuthDeg = this.params.energy.pvAzimuthDeg): number {
    const sun = this.sun(t);
    if (sun.elevationDeg <= 0 || capacityW <= 0) return 0;
    const { ghi, dni, dhi } = this.irradiance(t);
    const e = sun.elevationDeg * DEG;
    const beta = tiltDeg * DEG;
    const cosInc = Math.sin(e) * Math.cos(beta) + Math.cos(e) * Math.sin(beta) * Math.cos((sun.azimuthDeg - azimuthDeg) * DEG);
    const poa = dni * Math.max(0, cosInc) + (dhi * (1 + Math.cos(beta))) / 2 + (ghi * 0.2 * (1 - Math.cos(beta))) / 2;
    const tCell = this.airTemperature(t) + poa * 0.03;
    const p = ((capacityW * poa) / 1000) * (1 - 0.004 * (tCell - 25)) * 0.95 * this.modifiers(t).pvFactor;
    return Math.min(capacityW, Math.max(0, p));
  }

  /** Generation of the hub's PV array, W. */
  pvPower(t: number): number {
    return this.pvOutput(t, this.params.energy.pvCapacityW);
  }

  /** Output of a turbine with the hub's power curve at the current wind, W. */
  windOutput(t: number, ratedW: number): number {
    const e = this.params.energy;
    const v = this.windSpeed(t);
    if (v < e.windCutInMs || v >= e.windCutOutMs) return 0;
    if (v >= e.windRatedMs) return ratedW * 0.97;
    const cube = (x: number): number => x * x * x;
    return ratedW * 0.97 * ((cube(v) - cube(e.windCutInMs)) / (cube(e.windRatedMs) - cube(e.windCutInMs)));
  }

  /** Generation of the hub's wind turbine, W. */
  windPower(t: number): number {
    return this.windOutput(t, this.params.energy.windRatedW);
  }

  /** Community demand, W: a base load, morning, daytime and evening peaks (later and flatter at weekends), heating and cooling. */
  demandPower(t: number): number {
    const e = this.params.energy;
    const h = this.localHour(t);
    const peak = e.demandPeakW;
    let shape: number;
    if (this.isWeekend(t)) {
      shape = 0.5 * circularGauss(h, 9.5, 1.8) + 0.3 * smoothPlateau(h, 10, 17) + 0.9 * circularGauss(h, 18.5, 2);
    } else {
      shape = 0.7 * circularGauss(h, 7.5, 1.2) + 0.4 * smoothPlateau(h, 9, 17) + 1.0 * circularGauss(h, 19, 1.8);
    }
    // Heating follows the day's mean temperature (buildings are slow) and is set back at night;
    // cooling follows the afternoon heat.
    const setback = h >= 6 && h < 22 ? 1 : 0.4;
    const heating = e.heatingWPerC * Math.max(0, 15.5 - this.dailyMeanTemperature(t)) * setback;
    const cooling = e.coolingWPerC * Math.max(0, this.airTemperature(t) - 24);
    const thermal = heating + cooling;
    const jitter = 1 + 0.05 * noiseAt(this.seed, 'demand', t, 30 * 60_000);
    return Math.max(0, (e.demandBaseW + peak * shape + thermal) * jitter * this.modifiers(t).demandFactor);
  }

  // ---------------------------------------------------------------- stocks

  #initialState(step: number): void {
    const p = this.params;
    const o = (step % RETAIN_STEPS) * NF;
    const r = this.#ring;
    r[o + F.soil] = p.soil.fieldCapacityMm;
    r[o + F.unsat] = 3;
    r[o + F.recharge] = 3 / p.aquifer.unsaturatedLagH;
    r[o + F.head] = p.aquifer.initialHeadM;
    r[o + F.q1] = 0.5;
    r[o + F.q2] = 0.5;
    r[o + F.quick] = 0.5 / p.river.quickflowLagH;
    r[o + F.base] = (p.aquifer.baseflowMmPerDayPerM * Math.max(0, p.aquifer.initialHeadM - p.aquifer.riverHeadM)) / 24;
    r[o + F.battery] = (p.energy.batteryCapacityWh * p.energy.batteryInitialSocPct) / 100;
  }

  /** Integrates one 5-minute step from grid step k-1 to k. */
  #step(k: number): void {
    const p = this.params;
    const r = this.#ring;
    const prev = ((k - 1) % RETAIN_STEPS) * NF;
    const o = (k % RETAIN_STEPS) * NF;
    const t0 = (k - 1) * STEP_MS;
    const tm = t0 + STEP_MS / 2;
    const mod = this.modifiers(tm);

    // Soil bucket: rain splits into quickflow (more when wet) and infiltration; ET with water stress; drainage above field capacity.
    const { fieldCapacityMm: fc, wiltingPointMm: wp, saturationMm: sat, drainagePerH } = p.soil;
    let soil = r[prev + F.soil] as number;
    const rain = this.rainfall(t0, t0 + STEP_MS);
    const wet = Math.min(1, Math.max(0, (soil - wp) / (sat - wp)));
    let quickIn = rain * (0.05 + 0.45 * wet * wet * wet);
    soil += rain - quickIn;
    const stress = Math.min(1, Math.max(0, (soil - wp) / (0.7 * (fc - wp))));
    soil -= this.pet(tm) * STEP_H * stress;
    const drain = soil > fc ? (soil - fc) * (1 - Math.exp(-drainagePerH * STEP_H)) : 0;
    soil -= drain;
    if (soil > sat) {
      quickIn += soil - sat;
      soil = sat;
    }

    // Unsaturated zone: a linear reservoir between drainage and recharge (the lag after rain).
    let unsat = (r[prev + F.unsat] as number) + drain;
    const rechargeMm = unsat * (1 - Math.exp(-STEP_H / p.aquifer.unsaturatedLagH));
    unsat -= rechargeMm;

    // Aquifer: recharge in, abstraction and baseflow out, over the specific yield.
    const aq = p.aquifer;
    let head = r[prev + F.head] as number;
    const abstractionMm = ((aq.abstractionM3PerDay * mod.pumpingFactor) / (aq.areaKm2 * 1e6)) * 1000 * (STEP_MS / DAY_MS);
    const baseMm = ((aq.baseflowMmPerDayPerM * Math.max(0, head - aq.riverHeadM)) * STEP_MS) / DAY_MS;
    head += (rechargeMm - abstractionMm - baseMm) / (aq.specificYield * 1000);

    // River: quickflow through two linear reservoirs in series (a Nash cascade: the lag), plus baseflow.
    const kq = 1 - Math.exp(-STEP_H / p.river.quickflowLagH);
    let q1 = (r[prev + F.q1] as number) + quickIn;
    const out1 = q1 * kq;
    q1 -= out1;
    let q2 = (r[prev + F.q2] as number) + out1;
    const out2 = q2 * kq;
    q2 -= out2;

    // Battery: generation minus demand, within power and capacity limits; off-grid it may empty.
    const e = p.energy;
    let wh = r[prev + F.battery] as number;
    const net = this.pvPower(tm) + this.windPower(tm) - this.demandPower(tm);
    const halfEff = Math.sqrt(e.batteryEfficiency);
    if (net > 0) {
      wh = Math.min(e.batteryCapacityWh, wh + Math.min(net, e.batteryMaxPowerW) * STEP_H * halfEff);
    } else {
      const floor = mod.gridConnected ? (e.batteryCapacityWh * e.batteryReservePct) / 100 : 0;
      if (wh > floor) wh = Math.max(floor, wh - (Math.min(-net, e.batteryMaxPowerW) * STEP_H) / halfEff);
    }

    r[o + F.soil] = soil;
    r[o + F.unsat] = unsat;
    r[o + F.recharge] = rechargeMm / STEP_H;
    r[o + F.head] = head;
    r[o + F.q1] = q1;
    r[o + F.q2] = q2;
    r[o + F.quick] = out2 / STEP_H;
    r[o + F.base] = baseMm / STEP_H;
    r[o + F.battery] = wh;
  }

  #field(k: number, f: number): number {
    return this.#ring[(k % RETAIN_STEPS) * NF + f] as number;
  }

  /** The stocks at `t`. Throws SimulatorError `SIM_ERR_TIME` before the spin-up or more than 14 days behind the latest time asked for. */
  state(t: number): EnvironmentState {
    const x = t / STEP_MS;
    const k0 = Math.floor(x);
    const k1 = k0 + 1;
    if (k0 < this.#spinStartStep) {
      throw new SimulatorError('SIM_ERR_TIME', `time ${new Date(t).toISOString()} is before the environment's spin-up (start ${new Date(this.startMs).toISOString()})`);
    }
    while (this.#frontier < k1) this.#step(++this.#frontier);
    if (k0 <= this.#frontier - RETAIN_STEPS) {
      throw new SimulatorError('SIM_ERR_TIME', `time ${new Date(t).toISOString()} is more than 14 days behind the environment's latest time`);
    }
    const w = x - k0;
    const at = (f: number): number => (1 - w) * this.#field(k0, f) + w * this.#field(k1, f);
    const p = this.params;
    const soilWaterMm = at(F.soil);
    const areaFactor = (p.river.catchmentKm2 * 1e6) / 1000 / 3600; // mm/h over the catchment -> m3/s
    const baseflowM3s = at(F.base) * areaFactor;
    return {
      soilWaterMm,
      soilWetness: (soilWaterMm - p.soil.wiltingPointMm) / (p.soil.fieldCapacityMm - p.soil.wiltingPointMm),
      unsaturatedMm: at(F.unsat),
      rechargeMmH: at(F.recharge),
      aquiferHeadM: at(F.head),
      dischargeM3s: Math.max(0, at(F.quick) * areaFactor + baseflowM3s),
      baseflowM3s,
      batteryWh: at(F.battery),
    };
  }

  /** Regional aquifer head, m above datum. */
  aquiferHead(t: number): number {
    return this.state(t).aquiferHeadM;
  }

  /** Battery state of charge (%) and stored energy (Wh). */
  battery(t: number): { socPct: number; energyWh: number } {
    const wh = this.state(t).batteryWh;
    return { socPct: (100 * wh) / this.params.energy.batteryCapacityWh, energyWh: wh };
  }
}

/** 1 between `from` and `to` (local hours), with one-hour ramps at either end. */
function smoothPlateau(h: number, from: number, to: number): number {
  const up = Math.min(1, Math.max(0, h - from + 0.5));
  const down = Math.min(1, Math.max(0, to - h + 0.5));
  return Math.min(up, down);
}

/** Lanczos approximation of the gamma function (for the Weibull mean). */
function gamma(z: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.PI / (Math.sin(Math.PI * z) * gamma(1 - z));
  z -= 1;
  let x = c[0] as number;
  for (let i = 1; i < g + 2; i++) x += (c[i] as number) / (z + i);
  const t = z + g + 0.5;
  return Math.sqrt(2 * Math.PI) * Math.pow(t, z + 0.5) * Math.exp(-t) * x;
}

/** Creates the shared world model of one hub. Throws SimulatorError on invalid params or an unknown scenario. */
export function createEnvironment(opts: EnvironmentOptions): Environment {
  return new Environment(opts);
}
