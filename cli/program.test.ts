import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../registry/registry.ts';
import { describe, expect, it } from 'vitest';
import { payloadJsonSchemas } from '../api/schemas.ts';
import { runCli } from './program.ts';

function capture(): { io: { out(t: string): void; err(t: string): void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => void out.push(t), err: (t) => void err.push(t) }, out, err };
}

describe('steward command line', () => {
  it('docs/schema/ holds what `steward schema` generates (run `steward schema --out docs/schema` after changing core/reading.ts)', () => {
    for (const [name, doc] of Object.entries(payloadJsonSchemas())) {
      const committed = JSON.parse(readFileSync(new URL(`../docs/schema/${name}`, import.meta.url), 'utf8'));
      expect(committed, name).toEqual(doc);
    }
  });

  it('schema without --out prints every document as one JSON object', async () => {
    const c = capture();
    expect(await runCli(['node', 'steward', 'schema'], c.io)).toBe(0);
    const docs = JSON.parse(c.out.join(''));
    expect(Object.keys(docs)).toEqual(['reading.json', 'senml-pack.json']);
    expect(docs['reading.json'].required).toEqual(['ts', 'seq', 'metrics']);
  });

  it('usage errors exit 2, --help exits 0', async () => {
    const bad = capture();
    expect(await runCli(['node', 'steward', 'sensors', 'add', 'demo'], bad.io)).toBe(2);
    expect(bad.err.join('')).toContain("missing required argument 'domain'");
    const help = capture();
    expect(await runCli(['node', 'steward', '--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/sensors[\s\S]*accounts[\s\S]*start/);
  });

  it('rejects a bad --speed before starting anything', async () => {
    const c = capture();
    expect(await runCli(['node', 'steward', 'sim', '--speed', 'fast'], c.io)).toBe(2);
    expect(c.err.join('')).toContain('--speed: "fast" is not a positive number');
  });

  it('tokens add prints a token once and stores only its hash; list shows no token; revoke removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-cli-'));
    const config = join(dir, 'steward.yaml');
    writeFileSync(config, `dataDir: ${join(dir, 'data')}\nhttp:\n  tokens: [{ name: cfg, token: config-token-0123456789, role: technician }]\n`);
    try {
      const add = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'add', 'nora', '--role', 'steward', '--hub', 'north', '--hub', 'south', '--expires', '90d'], add.io)).toBe(0);
      const token = /token: (stw_\S+)/.exec(add.out.join('\n'))?.[1] as string;
      expect(add.out.join('\n')).toContain('Added steward token nora for hubs north, south, expires ');
      const reg = Registry.open(join(dir, 'data'));
      expect(reg.findToken(token)).toMatchObject({ name: 'nora', role: 'steward', hubs: ['north', 'south'], expired: false });
      expect((reg.findToken(token)?.expiresAt ?? 0) - Date.now()).toBeGreaterThan(89 * 86_400_000);
      reg.close();
      const check = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'check'], check.io)).toBe(0);
      expect(check.out.join('\n')).toContain('tokens: cfg (technician); 1 in the registry (steward tokens list)');
      const list = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'list'], list.io)).toBe(0);
      expect(list.out.join('\n')).toMatch(/nora\s+steward\s+north,south\s+\d{4}-.*registry\ncfg\s+technician\s+\(all\)\s+never\s+config/);
      expect(list.out.join('\n')).not.toContain(token);
      const dup = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'add', 'nora', '--role', 'steward'], dup.io)).toBe(2);
      expect(dup.err.join('')).toContain('a token named nora exists: revoke it first');
      const badExpiry = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'add', 'x', '--role', 'steward', '--expires', 'soon'], badExpiry.io)).toBe(2);
      const revoke = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'revoke', 'nora'], revoke.io)).toBe(0);
      const again = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'revoke', 'nora'], again.io)).toBe(1);
      const cfg = capture();
      expect(await runCli(['node', 'steward', '--config', config, 'tokens', 'revoke', 'cfg'], cfg.io)).toBe(1);
      expect(cfg.err.join('')).toContain('in the config file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
