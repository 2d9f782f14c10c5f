/**
 * The bench fleet: N sensors of one hub spread round-robin over the four domains, their
 * credentials, and the native JSON reading each publishes (two catalogue metrics, no personal
 * data, so the privacy filter passes every reading through and every reading is stored).
 * @module
 */
import type { Domain } from '../../core/ids.ts';

export const BENCH_HUB = 'bench';
export const DOMAINS: readonly Domain[] = ['water', 'soil', 'energy', 'biodiversity'];

/** One simulated device as the load generator needs it. */
export interface BenchSensor {
  hub: string;
  domain: Domain;
  sensor: string;
  /** MQTT username and client id: `{hub}.{sensor}`. */
  username: string;
  password: string;
}

/** Sensor `i` of the fleet: id `s00042`, domain by round-robin. */
export function sensorAt(i: number): { domain: Domain; sensor: string } {
  return { domain: DOMAINS[i % DOMAINS.length]!, sensor: `s${String(i).padStart(5, '0')}` };
}

/** A native JSON reading of `domain` (seq and ts set by the caller; values vary with seq). */
export function benchPayload(domain: Domain, seq: number, ts: number): string {
  const v = (seq % 100) / 100;
  switch (domain) {
    case 'water':
      return `{"ts":${ts},"seq":${seq},"metrics":{"groundwater_level":${40 + v},"water_temperature":${11 + v}}}`;
    case 'soil':
      return `{"ts":${ts},"seq":${seq},"metrics":{"soil_moisture":${0.3 + v / 10},"soil_temperature":${9 + v}}}`;
    case 'energy':
      return `{"ts":${ts},"seq":${seq},"metrics":{"pv_power":${1000 + seq % 1000},"battery_soc":${50 + v * 10}}}`;
    case 'biodiversity':
      return `{"ts":${ts},"seq":${seq},"species":"Erithacus rubecula","metrics":{"count":1,"confidence":${0.5 + v / 2}}}`;
  }
}
