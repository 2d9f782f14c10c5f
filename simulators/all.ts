/**
 * The simulator registry: one import line per simulator, and the same name in the list below.
 * Keep both alphabetical. (`_template/` is deliberately not registered.)
 */
import { SimulatorError } from './errors.ts';
import type { SimulatorDefinition } from './types.ts';

import acousticMonitor from './acoustic-monitor/index.ts';
import battery from './battery/index.ts';
import citizenObservation from './citizen-observation/index.ts';
import communityDemand from './community-demand/index.ts';
import groundwater from './groundwater/index.ts';
import householdMeter from './household-meter/index.ts';
import rainGauge from './rain-gauge/index.ts';
import river from './river/index.ts';
import soil from './soil/index.ts';
import solar from './solar/index.ts';
import waterQuality from './water-quality/index.ts';
import wind from './wind/index.ts';

const LIST: readonly SimulatorDefinition[] = [
  acousticMonitor,
  battery,
  citizenObservation,
  communityDemand,
  groundwater,
  householdMeter,
  rainGauge,
  river,
  soil,
  solar,
  waterQuality,
  wind,
];

/** Every registered simulator, by kind. */
export const SIMULATORS: Readonly<Record<string, SimulatorDefinition>> = Object.freeze(Object.fromEntries(LIST.map((d) => [d.kind, d])));

/** The simulator registered as `kind`. Throws SimulatorError `SIM_ERR_UNKNOWN_KIND`. */
export function getSimulator(kind: string): SimulatorDefinition {
  const def = Object.prototype.hasOwnProperty.call(SIMULATORS, kind) ? SIMULATORS[kind] : undefined;
  if (!def) throw new SimulatorError('SIM_ERR_UNKNOWN_KIND', `unknown simulator kind "${kind}"; known: ${Object.keys(SIMULATORS).join(', ')}`);
  return def;
}
