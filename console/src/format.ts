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

/** Least-squares slope of values over time, in units per day (undefined with fewer than 3 points or no span). */
export function slopePerDay(ts: readonly number[], values: readonly number[]): number | undefined {
  const n = Math.min(ts.length, values.length);
  if (n < 3) return undefined;
  const t0 = ts[0] as number;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += ((ts[i] as number) - t0) / 86_400_000;
    sy += values[i] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = ((ts[i] as number) - t0) / 86_400_000 - mx;
    num += dx * ((values[i] as number) - my);
    den += dx * dx;
  }
  return den > 0 ? num / den : undefined;
}

export interface Trend {
  direction: 'rising' | 'falling' | 'steady';
  /** Newest value of the smoothed series (the 24-hour mean), or of the series when not smoothed. */
  level: number;
  /** Whether `level` is a moving average. */
  smoothed: boolean;
  /** e.g. `falling 3.1 cm a day`. */
  words: string;
  perDay: number;
}

/**
 * Trailing moving average over `windowMs` (kept only once a full window is behind a point): takes
 * out daily cycles (a pumped well's drawdown, a battery's day and night) before fitting a trend,
 * as the rules do (`smooth: 1d`).
 */
export function smooth(ts: readonly number[], values: readonly number[], windowMs: number): { ts: number[]; values: number[] } {
  const out = { ts: [] as number[], values: [] as number[] };
  if (!ts.length || (ts[ts.length - 1] as number) - (ts[0] as number) < windowMs) return out;
  let lo = 0;
  let sum = 0;
  for (let i = 0; i < ts.length; i++) {
    sum += values[i] as number;
    while ((ts[lo] as number) <= (ts[i] as number) - windowMs) sum -= values[lo++] as number;
    if ((ts[i] as number) - (ts[0] as number) >= windowMs - 1) {
      out.ts.push(ts[i] as number);
      out.values.push(sum / (i - lo + 1));
    }
  }
  return out;
}

/** An amount of change in the unit people use for it (cm or mm for small changes in metres). */
function amountOf(v: number, unit: string): string {
  const a = Math.abs(v);
  if (unit === 'm' && a < 0.01) return `${fmt(a * 1000, 1)} mm`;
  if (unit === 'm' && a < 1) return `${fmt(a * 100, 1)} cm`;
  if (unit === '%') return `${fmt(a)} points`;
  return withUnit(a, unit);
}

/**
 * The trend of a series in words. `per` chooses the rate's unit of time; `steadyBelow` is the
 * change over the span under which it is "steady"; `smoothMs` (default 1 day, when the series is
 * longer) is the moving average taken first.
 */
export function trendOf(ts0: readonly number[], values0: readonly number[], unit: string, opts: { per?: 'day' | 'year'; steadyBelow?: number; smoothMs?: number } = {}): Trend | undefined {
  const sm = opts.smoothMs ?? 86_400_000;
  const span0 = ts0.length ? (ts0[ts0.length - 1] as number) - (ts0[0] as number) : 0;
  const sm1 = sm > 0 && span0 >= sm ? smooth(ts0, values0, sm) : undefined;
  const smoothed = sm1 && sm1.ts.length >= 3 ? sm1 : { ts: ts0, values: values0 };
  const { ts, values } = smoothed;
  const s = slopePerDay(ts, values);
  if (s === undefined) return undefined;
  const base = { level: values[values.length - 1] as number, smoothed: smoothed.values !== values0 };
  const spanDays = ((ts[ts.length - 1] as number) - (ts[0] as number)) / 86_400_000;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const change = Math.abs(s * spanDays);
  const steadyBelow = opts.steadyBelow ?? Math.max(Math.abs(hi), Math.abs(lo)) * 1e-4;
  if (change < steadyBelow) return { ...base, direction: 'steady', words: 'steady', perDay: s };
  const per = opts.per ?? 'day';
  const rate = per === 'year' ? s * 365 : s;
  const amount = amountOf(rate, unit);
  if (/^0( |$)/.test(amount)) return { ...base, direction: 'steady', words: 'steady', perDay: s };
  const direction = s > 0 ? 'rising' : 'falling';
  return { ...base, direction, words: `${direction} ${amount} a ${per}`, perDay: s };
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
