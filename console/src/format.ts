/** Numbers, units, times and trends in words, as people read them. */

const UNIT_LABEL: Record<string, string> = {
  m3: 'm³',
  'm3/s': 'm³/s',
  'm3/m3': 'm³/m³',
  Cel: '°C',
  'umol/m2/s': 'µmol/m²/s',
  'mg/l': 'mg/l',
  '/': '',
  count: '',
};

export function unitLabel(unit: string | null | undefined): string {
  if (!unit) return '';
  return UNIT_LABEL[unit] ?? unit;
}

/** A number with about three significant figures (more for large values), grouped. */
export function fmt(v: number | null | undefined, digits?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  const d = digits ?? (a === 0 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4);
  return v.toLocaleString('en-GB', { minimumFractionDigits: 0, maximumFractionDigits: d });
}

/** Value and unit: `39.8 m`, `71 %`, `0.31 m³/m³`; watts as kW above 1000. */
export function withUnit(v: number | null | undefined, unit: string | null | undefined, digits?: number): string {
  if (unit === 'W' && v !== null && v !== undefined && Math.abs(v) >= 1000) return `${fmt(v / 1000, digits ?? 2)} kW`;
  const u = unitLabel(unit);
  if (!u) return fmt(v, digits);
  return u === '%' ? `${fmt(v, digits)} %` : `${fmt(v, digits)} ${u}`;
}

const METRIC_LABEL: Record<string, string> = {
  groundwater_level: 'Aquifer level',
  river_stage: 'River stage',
  discharge: 'River discharge',
  withdrawal: 'Withdrawals',
  rainfall: 'Rainfall',
  turbidity: 'Turbidity',
  nitrate: 'Nitrate',
  dissolved_oxygen: 'Dissolved oxygen',
  ph: 'pH',
  water_temperature: 'Water temperature',
  soil_organic_carbon: 'Soil organic carbon',
  soil_moisture: 'Soil moisture',
  soil_temperature: 'Soil temperature',
  co2_flux: 'Soil CO₂ flux',
  pv_power: 'Solar generation',
  wind_power: 'Wind generation',
  battery_soc: 'Battery charge',
  battery_energy: 'Battery energy',
  demand_power: 'Community demand',
  household_power: 'Household demand',
  count: 'Detections',
  confidence: 'Detection confidence',
};

export function metricLabel(metric: string): string {
  return METRIC_LABEL[metric] ?? metric.replace(/_/g, ' ');
}

export const DOMAIN_LABEL: Record<string, string> = { water: 'Water', energy: 'Energy', soil: 'Soil', biodiversity: 'Biodiversity' };

/** `3 min ago`, `2 h ago`, `5 days ago`; `in 2 h` for the future. */
export function ago(ts: number | null | undefined, now = Date.now()): string {
  if (ts === null || ts === undefined) return 'never';
  const s = Math.round((now - ts) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  const t = a < 45 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86_400 * 2 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} days`;
  if (a < 5) return 'just now';
  return future ? `in ${t}` : `${t} ago`;
}

/** `25 Nov 14:05` in the viewer's time zone. */
export function dateTime(ts: number | string | null | undefined): string {
  if (ts === null || ts === undefined) return '–';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '–';
  return d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

export function isoOf(ts: number | string): string {
  return new Date(ts).toISOString();
}

/** Mean, min, max of values. */
export function stats(values: readonly number[]): { min: number; max: number; mean: number } | undefined {
  if (!values.length) return undefined;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  return { min, max, mean: sum / values.length };
}

/** A window for about `points` points over `rangeMs`, from a list people recognise. */
export function windowFor(rangeMs: number, points = 300): { label: string; ms: number } {
  const options: Array<[string, number]> = [
    ['1m', 60_000],
    ['5m', 300_000],
    ['15m', 900_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['3h', 10_800_000],
    ['6h', 21_600_000],
    ['1d', 86_400_000],
  ];
  for (const [label, ms] of options) if (rangeMs / ms <= points) return { label, ms };
  return { label: '1d', ms: 86_400_000 };
}
