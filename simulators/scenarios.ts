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
import { hashSeed, unitAt } from './random.ts';

const DAY_MS = 86_400_000;

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

/** A named scenario. */
export interface ScenarioDefinition {
  name: string;
  description: string;
  /** Changes to the world `elapsedMs` after the scenario began (never called with a negative value). */
  modifiers(elapsedMs: number): Partial<EnvironmentModifiers>;
  /** Which sensors fail, and how; deterministic in `seed` and the sensor id. */
  fault?(sensor: { id: string; kind: string }, seed: number): SensorFault | undefined;
}

const ramp = (elapsedMs: number, overDays: number): number => Math.min(1, elapsedMs / (overDays * DAY_MS));

/** All scenarios, by name. */
export const SCENARIOS: Readonly<Record<string, ScenarioDefinition>> = Object.freeze({
  normal: {
    name: 'normal',
    description: 'Ordinary weather and use: the baseline every other scenario changes.',
    modifiers: () => ({}),
  },
  drought: {
    name: 'drought',
    description:
      'No rain, pumping 2.5× (longer pumping windows), evapotranspiration 1.5×, 2 °C warmer and clearer skies: soils dry out and the aquifer falls steadily.',
    modifiers: () => ({ rainFactor: 0, pumpingFactor: 2.5, petFactor: 1.5, temperatureOffsetC: 2, cloudFactor: 0.6 }),
  },
  heatwave: {
    name: 'heatwave',
    description: 'Air temperature climbs 10 °C over two days and stays; clear skies, little rain; cooling demand rises, oxygen in the river falls.',
    modifiers: (e) => {
      const r = ramp(e, 2);
      return {
        temperatureOffsetC: 10 * r,
        cloudFactor: 1 - 0.7 * r,
        rainFactor: 1 - 0.8 * r,
        petFactor: 1 + 0.4 * r,
        biodiversityFactor: 1 - 0.25 * r,
      };
    },
  },
  'grid-outage': {
    name: 'grid-outage',
    description: 'The grid is down, the turbine is becalmed and a PV string has failed while demand rises: the battery drains.',
    modifiers: () => ({ gridConnected: false, windFactor: 0.1, pvFactor: 0.35, demandFactor: 1.3 }),
  },
  'species-decline': {
    name: 'species-decline',
    description: 'Detections fall by half every week and the rarer species disappear first: richness declines over days.',
    modifiers: (e) => {
      const days = e / DAY_MS;
      return { biodiversityFactor: Math.pow(0.5, days / 7), richnessFactor: 0.2 + 0.8 * Math.exp(-days / 12) };
    },
  },
  'sensor-failure': {
    name: 'sensor-failure',
    description:
      'About a third of the sensors fail within two days: some fall silent, some freeze on their last values, some send the -9999 error sentinel.',
    modifiers: () => ({}),
    fault: (sensor, seed) => {
      if (unitAt(hashSeed(seed, sensor.id), 'fault', 0) >= 0.35) return undefined;
      const modes: SensorFaultMode[] = ['silent', 'stuck', 'garbage'];
      const mode = modes[Math.floor(unitAt(hashSeed(seed, sensor.id), 'fault', 1) * modes.length)] ?? 'silent';
      const afterMs = Math.round((2 / 24 + unitAt(hashSeed(seed, sensor.id), 'fault', 2) * 2) * DAY_MS);
      return { mode, afterMs };
    },
  },
});

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
