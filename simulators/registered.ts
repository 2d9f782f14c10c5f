/**
 * The registered simulators: ONE line per simulator, in alphabetical order of folder. This line is
 * all it takes for a new simulator (simulators/<kind>/) to be in the registry, the demo fleet,
 * the tests and the console. `_template/` is deliberately not registered.
 */
export { default as acousticMonitor } from './acoustic-monitor/index.ts';
export { default as battery } from './battery/index.ts';
export { default as citizenObservation } from './citizen-observation/index.ts';
export { default as communityDemand } from './community-demand/index.ts';
export { default as groundwater } from './groundwater/index.ts';
export { default as householdMeter } from './household-meter/index.ts';
export { default as rainGauge } from './rain-gauge/index.ts';
export { default as river } from './river/index.ts';
export { default as soil } from './soil/index.ts';
export { default as solar } from './solar/index.ts';
export { default as waterQuality } from './water-quality/index.ts';
export { default as wind } from './wind/index.ts';
