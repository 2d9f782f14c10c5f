/**
 * A scenario run is kept apart from the hub's real history. `steward start --scenario drought`
 * replays a month of simulated drought ending now; on a data dir that already holds readings up
 * to now (an earlier run), those replayed readings would be older than every rule window and be
 * ignored, or interleave with the real ones. So a scenario other than `normal` runs on its own data
 * dir, `{dataDir}/scenarios/{name}`, emptied at each start: registry, spool, dead letters,
 * embedded store and alert state all belong to the scenario, and `{dataDir}` itself is not touched.
 * (With InfluxDB, point the scenario at a database of its own: INFLUX_DATABASE / INFLUX_BUCKET.)
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Config } from '../core/config.ts';
import { SCENARIOS } from '../simulators/index.ts';

/**
 * The configuration of `steward start` with `scenario`: the same, on the scenario's own (emptied)
 * data dir. Returns the config unchanged for normal weather, without the simulators, or an unknown
 * scenario (the simulators then report it).
 */
export function scenarioConfig(config: Config, scenario: string | undefined, sim: boolean): Config {
  const name = scenario ?? config.simulators.scenario;
  if (!sim || !name || name === 'normal' || !Object.hasOwn(SCENARIOS, name)) return config;
  const dir = join(config.dataDir, 'scenarios', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The hub's accounts, tokens and devices work in the scenario too: it starts from a copy of the
  // registry (a consistent snapshot, whatever the WAL holds); readings and alerts stay apart.
  const registry = join(config.dataDir, 'registry.db');
  if (existsSync(registry)) {
    const db = new Database(registry, { readonly: true });
    try {
      db.prepare('VACUUM INTO ?').run(join(dir, 'registry.db'));
    } finally {
      db.close();
    }
  }
  return { ...config, dataDir: dir };
}
