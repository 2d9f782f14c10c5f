/**
 * Plain words for numbers, units and dates, as alerts say them and the console shows them: one
 * formatting, so the page and the alert message never print the same number two ways.
 */
import { metricDef } from './catalogue.ts';

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
