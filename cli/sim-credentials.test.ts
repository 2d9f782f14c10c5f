import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../registry/index.ts';
import { ensureSimCredentials, SIM_CREDENTIALS_FILE } from './sim-credentials.ts';

describe('ensureSimCredentials', () => {
  let dir: string;
  let registry: Registry;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-simcred-'));
    registry = Registry.open(dir);
  });
  afterEach(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fleet = [
    { hub: 'demo', domain: 'water', sensor: 'well-1', kind: 'groundwater' },
    { hub: 'demo', domain: 'energy', sensor: 'battery', kind: 'battery', site: 'hall' },
  ];

  it('registers the fleet, keeps the passwords in a 0600 file, and reuses them on the next run', async () => {
    const first = await ensureSimCredentials(registry, dir, fleet);
    expect([...first.keys()]).toEqual(['demo.well-1', 'demo.battery']);
    expect(await registry.authenticate('demo.well-1', first.get('demo.well-1')!.password)).toMatchObject({ type: 'device', domain: 'water' });
    const file = join(dir, SIM_CREDENTIALS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).sensors['demo.battery']).toBe(first.get('demo.battery')!.password);
    const created = registry.listSensors().map((s) => s.createdAt);

    const second = await ensureSimCredentials(registry, dir, fleet);
    expect(second).toEqual(first);
    expect(registry.listSensors().map((s) => s.createdAt)).toEqual(created);
  });

  it('re-registers a sensor whose password was changed by someone else', async () => {
    const first = await ensureSimCredentials(registry, dir, fleet);
    await registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', password: 'changed-by-hand', kind: 'groundwater' });
    const second = await ensureSimCredentials(registry, dir, fleet);
    expect(second.get('demo.well-1')!.password).not.toBe(first.get('demo.well-1')!.password);
    expect(second.get('demo.battery')).toEqual(first.get('demo.battery'));
    expect(await registry.authenticate('demo.well-1', second.get('demo.well-1')!.password)).toBeDefined();
  });
});
