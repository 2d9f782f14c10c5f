/**
 * Plain words for alerts: who or what an alert is about (numbers, units and dates: core/words.ts).
 * Every alert says what is wrong, where, since when, and the numbers.
 */
import { metricDef } from '../core/catalogue.ts';
import type { Scope } from './kinds/types.ts';
import type { AggregateFn } from './spec.ts';

export { fmt, fmtApart, metricUnit, unitLabel, utcDate, utcMinute, withUnit } from '../core/words.ts';

const TITLES: Record<string, string> = {
  groundwater_level: 'Aquifer',
  river_stage: 'River stage',
  discharge: 'River discharge',
  withdrawal: 'Water withdrawal',
  rainfall: 'Rainfall',
  turbidity: 'Turbidity',
  nitrate: 'Nitrate',
  dissolved_oxygen: 'Dissolved oxygen',
  soil_organic_carbon: 'Soil organic carbon',
  soil_moisture: 'Soil moisture',
  soil_temperature: 'Soil temperature',
  co2_flux: 'Soil CO2 flux',
  pv_power: 'Solar generation',
  wind_power: 'Wind generation',
  battery_soc: 'Battery charge',
  battery_energy: 'Battery energy',
  demand_power: 'Energy demand',
  household_power: 'Household demand',
  count: 'Species detections',
  confidence: 'Detection confidence',
};

/** What an alert is about in words: the rule's `title`, else a name for the metric. */
export function titleOf(title: string | undefined, metric: string | undefined): string {
  if (title) return title;
  if (metric) return TITLES[metric] ?? metricDef(metric)?.description ?? metric;
  return 'Sensor';
}

/** Where: `well-1 (demo)`, `site wetland (demo)`, `hub demo`. */
export function wherePhrase(scope: Scope, hub: string, subject: string): string {
  if (scope === 'hub') return `hub ${hub}`;
  if (scope === 'site') return `site ${subject} (${hub})`;
  return `${subject} (${hub})`;
}

const FN_WORD: Record<AggregateFn, string> = { sum: 'Total', mean: 'Mean', min: 'Lowest', max: 'Highest' };

/**
 * Title and place: `Aquifer at well-1 (demo)`, or for a group
 * `Mean soil moisture across 3 sensors at site field-a (demo)`.
 */
export function subjectPhrase(title: string, view: { scope: Scope; hub: string; subject: string; fn: AggregateFn | undefined; members: readonly unknown[] }, n?: number): string {
  const where = wherePhrase(view.scope, view.hub, view.subject);
  if (view.scope === 'sensor' || !view.fn) return `${title} at ${where}`;
  const count = n ?? view.members.length;
  const lower = /^[A-Z][a-z]/.test(title) ? title.charAt(0).toLowerCase() + title.slice(1) : title;
  return `${FN_WORD[view.fn]} ${lower} across ${count} sensor${count === 1 ? '' : 's'} at ${where}`;
}
