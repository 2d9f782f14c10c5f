/**
 * Ground truth: what the world model knows about a run that the rules have to find out from
 * noisy readings. The backtest (cli/backtest.ts) scores the rules against it.
 *
 * - **Stocks and floors**: the noise-free level of every pumped well (a shadow of the well with
 *   its transducer noise set to 0, read every 15 simulated minutes), as a trailing 24-hour mean
 *   (what a well's level means once the daily pumping cycle is taken out). `crossesBelow` says
 *   when it really reaches a floor: the reference for a depletion forecast's lead time.
 * - **Extraction and regeneration**: per day, the volume the wells pumped and the recharge that
 *   reached the aquifer (m³).
 * - **Faults**: which sensors fail, how, and when.
 * - **Richness and the battery**: per day, the fraction of each site's species pool still present,
 *   and the lowest state of charge of the hub battery.
 */
import { type FleetEntry, type FleetSimulationOptions, createFleetSimulation } from './fleet.ts';
import type { ScenarioTruth } from './scenarios.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const STEP = 15 * MIN;

/** One simulated day of the world (from `dayStartMs`, UTC midnight-aligned to the run's start). */
export interface TruthDay {
  dayStartMs: number;
  /** Regional aquifer head at the end of the day, m. */
  aquiferHeadM: number;
  /** 24-hour mean noise-free level of each pumped well at the end of the day, m. */
  wellMeanM: Record<string, number>;
  /** Volume the wells pumped that day, m³. */
  pumpedM3: number;
  /** Recharge that reached the aquifer that day, m³. */
  rechargeM3: number;
  /** Lowest battery state of charge that day (hourly), %. */
  batteryMinSocPct: number;
  /** Fraction of each site's species pool still present (scenario modifier), 0–1. */
  richnessFactor: number;
  /** Relative wetness of the reference soil at the end of the day (0 = wilting point, 1 = field capacity). */
  soilWetness: number;
}

export interface GroundTruth extends ScenarioTruth {
  scenario: string;
  scenarioStartMs: number;
  fromMs: number;
  toMs: number;
  days: TruthDay[];
  /** Hourly trailing 24-hour means of each pumped well's noise-free level. */
  wellMeans: ReadonlyMap<string, ReadonlyArray<{ ts: number; value: number }>>;
  /**
   * First time (hourly) the 24-hour mean noise-free `metric` of `sensor` is at or below `floor`
   * after having been above it; undefined when it does not happen in the run. Only
   * `groundwater_level` of pumped wells is known.
   */
  crossesBelow(sensor: string, metric: string, floor: number): number | undefined;
}

export interface TruthOptions extends Omit<FleetSimulationOptions, 'startMs' | 'intervalS'> {
  scenario?: string;
  fromMs: number;
  toMs: number;
}

/** Computes the ground truth of a fleet under a scenario over [fromMs, toMs]. Deterministic in the options. */
export function groundTruth(opts: TruthOptions): GroundTruth {
  const fleet = opts.fleet;
  const simOpts: FleetSimulationOptions = { hub: opts.hub, fleet, seed: opts.seed, startMs: opts.fromMs };
  if (opts.scenario !== undefined) simOpts.scenario = opts.scenario;
  if (opts.scenarioStartMs !== undefined) simOpts.scenarioStartMs = opts.scenarioStartMs;
  if (opts.environment !== undefined) simOpts.environment = opts.environment;
  const full = createFleetSimulation(simOpts);
  const faults = full.sensors
    .filter((s) => s.fault)
    .map((s) => ({ sensor: s.entry.sensor, kind: s.entry.kind, domain: s.domain, site: s.entry.site, mode: s.fault!.mode, atMs: full.environment.scenarioStartMs + s.fault!.afterMs }));

  // Noise-free shadows of the pumped wells, against a world of their own (same seed: the same world).
  const wells: FleetEntry[] = fleet.filter((e) => e.kind === 'groundwater').map((e) => ({ ...e, config: { ...e.config, noiseM: 0, intervalS: STEP / 1000 } }));
  const shadow = createFleetSimulation({ ...simOpts, fleet: wells });
  const env = shadow.environment;
  const p = env.params;
  const areaM2 = p.aquifer.areaKm2 * 1e6;

  const recent = new Map<string, Array<{ ts: number; value: number }>>();
  const means = new Map<string, Array<{ ts: number; value: number }>>();
  for (const w of wells) {
    recent.set(w.sensor, []);
    means.set(w.sensor, []);
  }
  const days: TruthDay[] = [];
  let day: TruthDay | undefined;
  const first = Math.ceil(opts.fromMs / STEP) * STEP;
  for (let t = first; t <= opts.toMs; t += STEP) {
    if (!day || t >= day.dayStartMs + DAY) {
      day = { dayStartMs: day ? day.dayStartMs + DAY : opts.fromMs, aquiferHeadM: 0, wellMeanM: {}, pumpedM3: 0, rechargeM3: 0, batteryMinSocPct: 100, richnessFactor: 1, soilWetness: 0 };
      days.push(day);
    }
    for (const s of shadow.sensors) {
      for (const payload of s.sensor.next(t)) {
        const level = payload.metrics.groundwater_level;
        if (typeof level !== 'number') continue;
        const pumped = payload.metrics.withdrawal;
        if (typeof pumped === 'number') day.pumpedM3 += pumped;
        const list = recent.get(s.entry.sensor) as Array<{ ts: number; value: number }>;
        list.push({ ts: payload.ts, value: level });
        while (list.length && (list[0] as { ts: number }).ts <= payload.ts - DAY) list.shift();
        if (t % HOUR === 0 && payload.ts - DAY >= first - STEP) {
          const mean = list.reduce((a, b) => a + b.value, 0) / list.length;
          means.get(s.entry.sensor)?.push({ ts: payload.ts, value: mean });
          day.wellMeanM[s.entry.sensor] = mean;
        }
      }
    }
    const st = env.state(t);
    day.rechargeM3 += ((st.rechargeMmH * (STEP / HOUR)) / 1000) * areaM2;
    day.aquiferHeadM = st.aquiferHeadM;
    day.soilWetness = st.soilWetness;
    if (t % HOUR === 0) day.batteryMinSocPct = Math.min(day.batteryMinSocPct, (100 * st.batteryWh) / p.energy.batteryCapacityWh);
    day.richnessFactor = env.modifiers(t).richnessFactor;
  }

  return {
    scenario: opts.scenario ?? 'normal',
    scenarioStartMs: env.scenarioStartMs,
    fromMs: opts.fromMs,
    toMs: opts.toMs,
    faults,
    days,
    wellMeans: means,
    crossesBelow(sensor, metric, floor) {
      if (metric !== 'groundwater_level') return undefined;
      const list = means.get(sensor) ?? [];
      let above = false;
      for (const m of list) {
        if (m.value > floor) above = true;
        else if (above) return m.ts;
      }
      return undefined;
    },
  };
}
