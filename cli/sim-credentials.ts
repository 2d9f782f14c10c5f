/**
 * Credentials of the simulated fleet. The simulators are devices like any other: each is
 * registered in the registry with its own password. The passwords are kept in
 * `<dataDir>/sim-credentials.json` (mode 0600) so that a re-run reuses them instead of
 * re-registering every sensor.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceUsername, type Registry } from '../registry/index.ts';

/** What the registry needs to know about one simulated sensor. */
export interface SimSensorSpec {
  hub: string;
  domain: string;
  sensor: string;
  site?: string;
  kind?: string;
}

interface CredentialsFile {
  version: 1;
  /** `{hub}.{sensor}` -> password. */
  sensors: Record<string, string>;
}

export const SIM_CREDENTIALS_FILE = 'sim-credentials.json';

function readFile(path: string): CredentialsFile {
  if (!existsSync(path)) return { version: 1, sensors: {} };
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<CredentialsFile>;
    if (raw && raw.version === 1 && raw.sensors && typeof raw.sensors === 'object') {
      const sensors: Record<string, string> = Object.create(null);
      for (const [k, v] of Object.entries(raw.sensors)) if (typeof v === 'string') sensors[k] = v;
      return { version: 1, sensors };
    }
  } catch {
    // A damaged file is replaced: the sensors are registered again with new passwords.
  }
  return { version: 1, sensors: {} };
}

function writeFileAtomic(path: string, data: CredentialsFile): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Makes sure every simulated sensor is registered with a password we know. A sensor already
 * registered whose stored password still authenticates is left alone; any other is (re)registered
 * with a fresh password. Returns `{hub}.{sensor}` -> `{ username, password }`.
 */
export async function ensureSimCredentials(registry: Registry, dataDir: string, sensors: SimSensorSpec[]): Promise<Map<string, { username: string; password: string }>> {
  const path = join(dataDir, SIM_CREDENTIALS_FILE);
  const file = readFile(path);
  const out = new Map<string, { username: string; password: string }>();
  let changed = !existsSync(path);
  // Verify the known passwords in parallel (scrypt runs on the libuv thread pool).
  const valid = await Promise.all(
    sensors.map(async (s) => {
      const username = deviceUsername(s.hub, s.sensor);
      const known = file.sensors[username];
      const registered = registry.getSensor(s.hub, s.sensor, 0);
      const sameShape = registered && registered.domain === s.domain && registered.site === s.site && registered.kind === s.kind;
      return known !== undefined && sameShape === true && (await registry.authenticate(username, known)) !== undefined;
    }),
  );
  for (const [i, s] of sensors.entries()) {
    const username = deviceUsername(s.hub, s.sensor);
    if (valid[i]) {
      out.set(username, { username, password: file.sensors[username] as string });
      continue;
    }
    const add: Parameters<Registry['addSensor']>[0] = { hub: s.hub, domain: s.domain, sensor: s.sensor }; // generated: stored as a keyed hash
    if (s.site !== undefined) add.site = s.site;
    if (s.kind !== undefined) add.kind = s.kind;
    const res = await registry.addSensor(add);
    file.sensors[username] = res.password;
    out.set(username, { username, password: res.password });
    changed = true;
  }
  if (changed) writeFileAtomic(path, file);
  return out;
}
