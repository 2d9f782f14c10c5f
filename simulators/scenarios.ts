/**
 * Scenarios: named changes to the world a hub lives in. A scenario modifies the shared
 * Environment (less rain, more pumping, a heatwave, a grid outage, a decline in wildlife) and may
 * make some sensors fail. Every simulator sees the same modified world, so the readings of
 * different sensors stay consistent with each other under a scenario too.
 *
 * A scenario's modifiers are a function of the time elapsed since the scenario began (the
 * simulation's start unless told otherwise), so scenarios can ramp up over days.
 */
import { SimulatorError } from './errors.ts';

// The registry: one line per scenario in scenarios/registered.ts.
import * as registered from './scenarios/registered.ts';

/** Multipliers and offsets applied to the Environment; each defaults to "no change". */
export interface EnvironmentModifiers {
  /** × storm frequency (≤ 1 thins storms out, 0 = no rain at all; > 1 makes them heavier). */
  rainFactor: number;
  /** Added to the air temperature, °C. */
  temperatureOffsetC: number;
  /** × cloud cover. */
  cloudFactor: number;
  /** × potential evapotranspiration. */
  petFactor: number;
  /** × pumping: longer pumping windows at every well and more abstraction from the aquifer. */
  pumpingFactor: number;
  /** × wind speed. */
  windFactor: number;
  /** × PV output (soiling, a failed string, smoke). */
  pvFactor: number;
  /** × community demand. */
  demandFactor: number;
  /** Whether the hub can draw from or export to the grid; off-grid the battery may empty. */
  gridConnected: boolean;
  /** × wildlife detection rate. */
  biodiversityFactor: number;
  /** Fraction (0–1) of a site's species pool still present. */
  richnessFactor: number;
}

export const NO_MODIFIERS: Readonly<EnvironmentModifiers> = Object.freeze({
  rainFactor: 1,
  temperatureOffsetC: 0,
  cloudFactor: 1,
  petFactor: 1,
  pumpingFactor: 1,
  windFactor: 1,
  pvFactor: 1,
  demandFactor: 1,
  gridConnected: true,
  biodiversityFactor: 1,
  richnessFactor: 1,
});

/** How a sensor misbehaves under a fault. */
export type SensorFaultMode =
  /** Stops publishing (a dead battery, a cut cable). */
  | 'silent'
  /** Keeps publishing its last values (a frozen logger). */
  | 'stuck'
  /** Publishes the logger error sentinel -9999 for every metric: out of range, rejected at ingest. */
  | 'garbage';

export interface SensorFault {
  mode: SensorFaultMode;
  /** Simulated time the fault begins, ms after the scenario's start. */
  afterMs: number;
}

/** What the world model knows about a scenario's run that the rules must find out (simulators/truth.ts). */
export interface ScenarioTruth {
  /** Sensors that really failed: which, how, and when (simulated time, epoch ms). */
  faults: ReadonlyArray<{ sensor: string; kind: string; domain: string; site: string; mode: SensorFaultMode; atMs: number }>;
}

/**
 * An alert a scenario must raise (its ground truth, in the rules' words). The backtest
 * (`steward rules backtest`, cli/backtest.ts) counts a firing of `rule` on `subject` inside
 * `window` as a true firing, and its absence as a miss.
 */
export interface ExpectedAlert {
  /** Rule id (rules/defaults/demo.yaml). */
  rule: string;
  /**
   * The alert's subject (a sensor, site or hub id), several (one alert on each), or the subjects
   * the ground truth says (e.g. the sensors that failed).
   */
  subject: string | readonly string[] | ((truth: ScenarioTruth) => readonly string[]);
  severity: 'info' | 'warning' | 'critical';
  /** Simulated days after the scenario began within which it must fire: [from, to]. */
  window: readonly [number, number];
  /** It may fire (then it is a true firing) but need not (no miss when it does not). */
  optional?: boolean;
  /** Why the world deserves this alert, in plain words (for the report and the README). */
  because: string;
}

/** A named scenario. */
export interface ScenarioDefinition {
  name: string;
  description: string;
  /** Changes to the world `elapsedMs` after the scenario began (never called with a negative value). */
  modifiers(elapsedMs: number): Partial<EnvironmentModifiers>;
  /** Which sensors fail, and how; deterministic in `seed` and the sensor id. */
  fault?(sensor: { id: string; kind: string }, seed: number): SensorFault | undefined;
  /** The alerts the demo rules must raise under it ([] for normal weather: any alert is false). */
  expect: readonly ExpectedAlert[];
  /** Simulated days the backtest runs it for by default. */
  backtestDays: number;
  /**
   * `steward start --scenario`: how many days the scenario has been under way when the replay of
   * the last month begins (default 30: a drought already biting from the first reading; 0: it
   * begins with the replay, for a scenario whose alerts compare this week with the last).
   */
  liveLeadDays?: number;
  /**
   * `steward start --scenario`: simulated seconds per real second (default 3600, an hour a second),
   * for a scenario whose first alert needs more simulated time than two minutes at that speed.
   */
  liveSpeed?: number;
  /**
   * `steward start --scenario`: the day of the year (1–365) the run is set in, whatever today's
   * date: the world's seasons are moved there (the sun keeps the real date). For a scenario that
   * only means something in one season (a heatwave in summer). Default: today.
   */
  liveSeasonDay?: number;
}

/** The shift that sets the world's seasons on `day` of the year when it is really `now` (ms, 0–365 days). */
export function seasonShiftTo(day: number, now: number): number {
  const d = new Date(now);
  const today = Math.floor((now - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
  return (((day - today) % 365) + 365) % 365 * 86_400_000;
}

/** The registered scenarios, the baseline (`normal`) first, then by name. */
const LIST: readonly ScenarioDefinition[] = (Object.values(registered) as ScenarioDefinition[]).sort((a, b) => Number(b.name === 'normal') - Number(a.name === 'normal') || a.name.localeCompare(b.name));

/** All scenarios, by name. */
export const SCENARIOS: Readonly<Record<string, ScenarioDefinition>> = Object.freeze(Object.fromEntries(LIST.map((s) => [s.name, s])));

/** The scenario named `name`. Throws SimulatorError `SIM_ERR_UNKNOWN_SCENARIO`. */
export function getScenario(name: string): ScenarioDefinition {
  const s = Object.prototype.hasOwnProperty.call(SCENARIOS, name) ? SCENARIOS[name] : undefined;
  if (!s) {
    throw new SimulatorError('SIM_ERR_UNKNOWN_SCENARIO', `unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  return s;
}

/** The full modifiers of `scenario` at `elapsedMs` (defaults filled in; none before the start). */
export function resolveModifiers(scenario: ScenarioDefinition | undefined, elapsedMs: number): EnvironmentModifiers {
  if (!scenario || elapsedMs < 0) return NO_MODIFIERS;
  return { ...NO_MODIFIERS, ...scenario.modifiers(elapsedMs) };
}
