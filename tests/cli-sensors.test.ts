/**
 * `steward` as a user runs it: a real process (bin/steward.js) against a temporary data dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.ts';
import { runCli } from './harness/services.ts';

const BIN = new URL('../bin/steward.js', import.meta.url).pathname;

describe('steward sensors / accounts / check (real process)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const steward = (...args: string[]) => runCli(process.execPath, [BIN, ...args], { env, cwd: dir, timeoutMs: 30_000 });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-cli-'));
    env = { ...process.env, STEWARD_DATA_DIR: join(dir, 'data') };
    delete env.STEWARD_CONFIG;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sensors add prints the username and a generated password once, and the device can authenticate with them', async () => {
    const r = await steward('sensors', 'add', 'demo', 'water', 'well-1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('MQTT username / client id: demo.well-1');
    expect(r.stdout).toContain('csm/v1/demo/water/well-1/data');
    const password = /MQTT password:\s+(\S+)\s+\(shown once/.exec(r.stdout)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const registry = Registry.open(join(dir, 'data'));
    try {
      expect(await registry.authenticate('demo.well-1', password!)).toMatchObject({ type: 'device', hub: 'demo', domain: 'water', sensor: 'well-1' });
    } finally {
      registry.close();
    }
  });

  it('sensors list --json shows it, with site and kind when given', async () => {
    expect((await steward('sensors', 'add', 'demo', 'energy', 'pv-roof', '--site', 'hall', '--kind', 'solar', '--password', 'a-long-password')).code).toBe(0);
    const r = await steward('sensors', 'list', '--json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(list.map((s) => s.username)).toEqual(['demo.pv-roof', 'demo.well-1']);
    expect(list[0]).toMatchObject({ hub: 'demo', domain: 'energy', sensor: 'pv-roof', site: 'hall', kind: 'solar' });
    expect(r.stdout).not.toContain('a-long-password');
    const table = await steward('sensors', 'list', '--hub', 'demo');
    expect(table.stdout).toMatch(/^HUB\s+DOMAIN\s+SENSOR/);
  });

  it('a bad id exits 2 naming the id, and registers nothing', async () => {
    const r = await steward('sensors', 'add', 'demo', 'water', 'Well 1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid sensor id "Well 1"');
    expect(r.stdout).toBe('');
    const bad = await steward('sensors', 'add', 'demo', 'air', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'air' is invalid for argument 'domain'.*water, soil, energy, biodiversity/);
    const list = JSON.parse((await steward('sensors', 'list', '--json')).stdout) as unknown[];
    expect(list).toHaveLength(2);
  });

  it('sensors remove removes, and says so when there is nothing to remove', async () => {
    expect((await steward('sensors', 'remove', 'demo', 'pv-roof')).stdout).toContain('removed sensor demo.pv-roof');
    const again = await steward('sensors', 'remove', 'demo', 'pv-roof');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no sensor pv-roof registered for hub demo');
  });

  it('accounts add / list / remove', async () => {
    const add = await steward('accounts', 'add', 'alice', '--role', 'technician', '--json');
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ username: 'alice', role: 'technician', password: expect.any(String) });
    const badRole = await steward('accounts', 'add', 'bob', '--role', 'admin');
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain("'admin' is invalid");
    expect(JSON.parse((await steward('accounts', 'list', '--json')).stdout)).toEqual([expect.objectContaining({ name: 'alice', role: 'technician' })]);
    expect((await steward('accounts', 'remove', 'alice')).code).toBe(0);
  });

  it('check accepts a good config and prints a summary', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, 'http:\n  port: 8181\n  tokens:\n    - { name: ops, token: "0123456789abcdef0123", role: technician }\n');
    const r = await steward('check', '--config', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK: configuration is valid/);
    expect(r.stdout).toContain('0.0.0.0:8181');
    expect(r.stdout).toContain('tokens: ops (technician)');
    expect(r.stdout).not.toContain('0123456789abcdef0123');
  });

  it('check with a bad config file names the key and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'mqtt:\n  port: 70000\nhttp:\n  colour: blue\n');
    const r = await steward('check', '--config', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mqtt.port');
    expect(r.stderr).toContain('"colour"');
    // STEWARD_CONFIG works the same way.
    const viaEnv = await runCli(process.execPath, [BIN, 'check'], { env: { ...env, STEWARD_CONFIG: file }, cwd: dir });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain('mqtt.port');
  });

  it('a missing config file is named, exit 2', async () => {
    const r = await steward('--config', join(dir, 'nope.yaml'), 'sensors', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.yaml: cannot read');
  });
});
