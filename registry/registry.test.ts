import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry, hashSecret, verifyPassword } from './registry.ts';

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

  it('registers a device with a generated password that authenticates, stored only as a keyed hash', async () => {
    const { entry, password, generated } = await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north' });
    expect(generated).toBe(true);
    expect(entry.username).toBe('demo.well-1');
    expect(await reg.authenticate('demo.well-1', password)).toMatchObject({ type: 'device', hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north' });
    expect(await reg.authenticate('demo.well-1', password + 'x')).toBeUndefined();
    expect(await reg.authenticate('demo.nobody', password)).toBeUndefined();
    const file = Buffer.concat(['registry.db', 'registry.db-wal'].map((f) => readFileSync(join(dir, f))));
    expect(file.includes(Buffer.from(password))).toBe(false);
    expect(file.includes(Buffer.from('hmac-sha256$'))).toBe(true);
    expect(file.includes(Buffer.from('scrypt$'))).toBe(false);
  });

  it('keeps scrypt for chosen passwords, and hashes written by older versions keep verifying', async () => {
    await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'chosen', password: 'my own words' });
    const file = Buffer.concat(['registry.db', 'registry.db-wal'].map((f) => readFileSync(join(dir, f))));
    expect(file.includes(Buffer.from('scrypt$16384$'))).toBe(true);
    expect(await reg.authenticate('demo.chosen', 'my own words')).toBeDefined();
    expect(await reg.authenticate('demo.chosen', 'my own word')).toBeUndefined();
  });

  it('verifies generated secrets on every process sharing the registry, and not on another registry', async () => {
    const { password } = await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-2' });
    const other = Registry.open(dir);
    expect(await other.authenticate('demo.well-2', password)).toBeDefined();
    other.close();
    // The stored hash copied into another registry (its own key) does not verify there.
    const elsewhere = mkdtempSync(join(tmpdir(), 'steward-reg-'));
    const foreign = Registry.open(elsewhere);
    await foreign.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-2' });
    const src = new Database(join(dir, 'registry.db'), { readonly: true });
    const dst = new Database(join(elsewhere, 'registry.db'));
    const row = src.prepare("SELECT password_hash FROM sensors WHERE hub = 'demo' AND sensor = 'well-2'").get() as { password_hash: string };
    dst.prepare("UPDATE sensors SET password_hash = ? WHERE hub = 'demo' AND sensor = 'well-2'").run(row.password_hash);
    src.close();
    dst.close();
    expect(row.password_hash).toMatch(/^hmac-sha256\$/);
    expect(await foreign.authenticate('demo.well-2', password)).toBeUndefined();
    const stored = hashSecret(password, Buffer.alloc(32));
    expect(await verifyPassword(password, stored, Buffer.alloc(32))).toBe(true);
    expect(await verifyPassword(password, stored, Buffer.alloc(32, 1))).toBe(false);
    expect(await verifyPassword(password, stored)).toBe(false);
    foreign.close();
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it('checks a generated device secret fast enough for a reconnect storm (no scrypt)', async () => {
    const { password } = await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-3' });
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) expect(await reg.authenticate('demo.well-3', password)).toBeDefined();
    // 200 scrypt checks would take ~8 s; keyed hashes take well under one.
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('keeps API tokens as hashes, scoped to hubs, with expiry and revocation seen by other processes', () => {
    const { token, entry } = reg.addToken({ name: 'north-steward', role: 'steward', hubs: ['north', 'north'], expiresAt: Date.now() + 60_000 });
    expect(token).toMatch(/^stw_[A-Za-z0-9_-]{43}$/);
    expect(entry).toMatchObject({ name: 'north-steward', role: 'steward', hubs: ['north'] });
    const file = Buffer.concat(['registry.db', 'registry.db-wal'].map((f) => readFileSync(join(dir, f))));
    expect(file.includes(Buffer.from(token))).toBe(false);
    const other = Registry.open(dir);
    expect(other.findToken(token)).toMatchObject({ name: 'north-steward', hubs: ['north'], expired: false });
    expect(other.findToken(token, Date.now() + 120_000)?.expired).toBe(true);
    expect(other.findToken(token + 'x')).toBeUndefined();
    expect(() => reg.addToken({ name: 'north-steward', role: 'steward' })).toThrow(/exists/);
    expect(() => reg.addToken({ name: 'x', role: 'service' })).toThrow(/invalid role/);
    expect(() => reg.addToken({ name: 'x', role: 'steward', hubs: ['No'] })).toThrow(/invalid hub/);
    expect(reg.listTokens().map((t) => t.name)).toEqual(['north-steward']);
    expect(reg.revokeToken('north-steward')).toBe(true);
    expect(other.findToken(token)).toBeUndefined();
    expect(reg.revokeToken('north-steward')).toBe(false);
    other.close();
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
