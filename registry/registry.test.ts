import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from './registry.ts';

describe('registry', () => {
  let dir: string;
  let reg: Registry;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-reg-'));
    reg = Registry.open(dir);
  });
  afterEach(() => {
    reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers a device with a generated password that authenticates, stored only as a scrypt hash', async () => {
    const { entry, password, generated } = await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north' });
    expect(generated).toBe(true);
    expect(entry.username).toBe('demo.well-1');
    expect(await reg.authenticate('demo.well-1', password)).toMatchObject({ type: 'device', hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north' });
    expect(await reg.authenticate('demo.well-1', password + 'x')).toBeUndefined();
    expect(await reg.authenticate('demo.nobody', password)).toBeUndefined();
    const file = Buffer.concat(['registry.db', 'registry.db-wal'].map((f) => readFileSync(join(dir, f))));
    expect(file.includes(Buffer.from(password))).toBe(false);
    expect(file.includes(Buffer.from('scrypt$'))).toBe(true);
  });

  it('sees devices added and removed by another process without a restart', async () => {
    const other = Registry.open(dir);
    expect(reg.getSensor('demo', 'pv-1', 0)).toBeUndefined();
    await other.addSensor({ hub: 'demo', domain: 'energy', sensor: 'pv-1', password: 'a-long-password' });
    expect(reg.getSensor('demo', 'pv-1', 0)?.domain).toBe('energy');
    expect(await reg.authenticate('demo.pv-1', 'a-long-password')).toBeDefined();
    other.removeSensor('demo', 'pv-1');
    expect(reg.getSensor('demo', 'pv-1', 0)).toBeUndefined();
    expect(await reg.authenticate('demo.pv-1', 'a-long-password')).toBeUndefined();
    other.close();
  });

  it('refuses ids that could break topics or ACLs', async () => {
    await expect(reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'a/#' })).rejects.toThrow(/invalid sensor id/);
    await expect(reg.addSensor({ hub: 'Demo', domain: 'water', sensor: 'a' })).rejects.toThrow(/invalid hub id/);
    await expect(reg.addSensor({ hub: 'demo', domain: 'air', sensor: 'a' })).rejects.toThrow(/invalid domain/);
    await expect(reg.addAccount({ name: 'x', role: 'god' })).rejects.toThrow(/invalid role/);
    expect(await reg.authenticate('demo.+', 'whatever-pass')).toBeUndefined();
  });

  it('authenticates accounts with their role', async () => {
    const { password } = await reg.addAccount({ name: 'ingest', role: 'service' });
    expect(await reg.authenticate('ingest', password)).toMatchObject({ type: 'account', role: 'service' });
    await reg.addAccount({ name: 'riverside', role: 'hub', hub: 'demo', password: 'hub-password-1' });
    expect(reg.listAccounts().map((a) => [a.name, a.role, a.hub])).toEqual([
      ['ingest', 'service', undefined],
      ['riverside', 'hub', 'demo'],
    ]);
  });
});
