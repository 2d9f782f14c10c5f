/**
 * The bench fleet: N sensors of one hub spread round-robin over the four domains, their
 * credentials, and the native JSON reading each publishes (two catalogue metrics, no personal
 * data, so the privacy filter passes every reading through and every reading is stored).
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Domain } from '../../core/ids.ts';
import { Registry } from '../../registry/registry.ts';

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

/** The fleet's passwords as kept in a registry cache's secrets.json (plus any other accounts'). */
export type FleetSecrets<Extra> = Extra & { creds: BenchSensor[] };

/**
 * Registers `n` sensors of {@link BENCH_HUB} in `dir`/registry.db, `batch` hashed in parallel
 * (scrypt or whatever the registry uses), or reuses the fleet kept in `cache` when it has `n`
 * (and, if given, the `extra` accounts); a fresh fleet is kept there (registry.db, and
 * secrets.json mode 0600).
 *
 * @param o.extra - accounts registered besides the sensors (e.g. the relay's sink), stored in secrets.json
 * @param o.noun - what the log and the `registration` record call a sensor ("sensors", "devices")
 */
export async function registerFleet<Extra extends Record<string, unknown> = Record<never, never>>(o: {
  dir: string;
  n: number;
  batch: number;
  cache?: string;
  noun: string;
  log: (msg: string) => void;
  extra?: (registry: Registry) => Promise<Extra>;
  extraKeys?: Array<keyof Extra>;
}): Promise<{ secrets: FleetSecrets<Extra>; registration: Record<string, unknown> }> {
  const { dir, n, batch, cache, noun, log } = o;
  if (cache && existsSync(join(cache, 'secrets.json')) && existsSync(join(cache, 'registry.db'))) {
    const cached = JSON.parse(readFileSync(join(cache, 'secrets.json'), 'utf8')) as FleetSecrets<Extra> | undefined;
    if (cached?.creds.length === n && (o.extraKeys ?? []).every((k) => cached[k])) {
      mkdirSync(dir, { recursive: true });
      copyFileSync(join(cache, 'registry.db'), join(dir, 'registry.db'));
      log(`reusing the ${n} ${noun} registered in ${cache}`);
      return { secrets: cached, registration: { [noun]: n, reused: cache } };
    }
  }
  const registry = Registry.open(dir);
  const extra = (await o.extra?.(registry)) ?? ({} as Extra);
  const creds: BenchSensor[] = [];
  const t0 = performance.now();
  let lastLog = t0;
  for (let i = 0; i < n; i += batch) {
    const part = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async (_, k) => {
        const { domain, sensor } = sensorAt(i + k);
        const { password } = await registry.addSensor({ hub: BENCH_HUB, domain, sensor });
        return { hub: BENCH_HUB, domain, sensor, username: `${BENCH_HUB}.${sensor}`, password };
      }),
    );
    creds.push(...part);
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`  registered ${creds.length}/${n}`);
    }
  }
  const ms = Math.round(performance.now() - t0);
  registry.close(); // checkpoints the WAL into registry.db
  const secrets = { ...extra, creds } as FleetSecrets<Extra>;
  const perSecond = Math.round(n / (ms / 1000));
  log(`registered ${n} ${noun} in ${ms} ms (${perSecond}/s, ${batch} hashed in parallel)`);
  if (cache) {
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    copyFileSync(join(dir, 'registry.db'), join(cache, 'registry.db'));
    writeFileSync(join(cache, 'secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
  }
  return { secrets, registration: { [noun]: n, ms, perSecond, parallel: batch } };
}
