/**
 * Plain words for alerts: numbers, units, dates, durations, and who or what an alert is about.
 * Every alert says what is wrong, where, since when, and the numbers.
 */
import { metricDef } from '../core/catalogue.ts';
import type { Scope } from './kinds/types.ts';
import type { AggregateFn } from './spec.ts';

/** A number as people read it: 1,234 / 35.0 / 0.43 / 0.0012; `extra` adds digits. */
export function fmt(v: number, extra = 0): string {
  if (!Number.isFinite(v)) return v > 0 ? '∞' : v < 0 ? '-∞' : 'n/a';
  const a = Math.abs(v);
  const near = Math.round(v);
  // Whole numbers (also 40.000000001 from a float sum) read as whole numbers.
  if (extra === 0 && Math.abs(v - near) <= 1e-9 * Math.max(1, a)) return (near === 0 ? 0 : near).toLocaleString('en-US');
  if (a >= 999.95 && extra === 0) return near.toLocaleString('en-US');
  if (a >= 1) return v.toFixed(1 + extra);
  if (a === 0) return '0';
  return Number(v.toPrecision(2 + extra)).toString();
}

/** `value` with as many digits as it takes not to read the same as `other` (a value next to its limit). */
export function fmtApart(value: number, other: number): string {
  for (let extra = 0; extra < 6; extra++) {
    const s = fmt(value, extra);
    if (s !== fmt(other, extra) || value === other) return s;
  }
  return fmt(value, 6);
}

const UNIT_LABEL: Record<string, string> = { Cel: '°C', 'm3/m3': 'm³/m³', m3: 'm³', 'm3/s': 'm³/s', '/': '', count: 'individuals' };

/** Display form of a catalogue unit. */
export function unitLabel(unit: string): string {
  return UNIT_LABEL[unit] ?? unit;
}

/** A value with its unit: `35.0 m`, `18.0%`, `12.0 °C`; with `apart`, distinguishable from that value. */
export function withUnit(v: number, unit: string, apart?: number): string {
  const u = unitLabel(unit);
  const n = apart === undefined ? fmt(v) : fmtApart(v, apart);
  if (u === '') return n;
  return u === '%' ? `${n}%` : `${n} ${u}`;
}

/** The unit of a metric in the catalogue ('' when unknown). */
export function metricUnit(metric: string | undefined): string {
  return (metric && metricDef(metric)?.unit) || '';
}

/** `2026-11-25 10:00 UTC` */
export function utcMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `2026-12-07` */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

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
