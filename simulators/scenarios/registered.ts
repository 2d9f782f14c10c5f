/**
 * The registered scenarios: ONE line per scenario file in this folder, in alphabetical order. This
 * line is all it takes for a new scenario to be playable (`--scenario <name>`), backtested and
 * tested. (`normal`, the baseline, is listed first wherever scenarios are listed.)
 */
export { default as drought } from './drought.ts';
export { default as gridOutage } from './grid-outage.ts';
export { default as heatwave } from './heatwave.ts';
export { default as normal } from './normal.ts';
export { default as sensorFailure } from './sensor-failure.ts';
export { default as speciesDecline } from './species-decline.ts';
