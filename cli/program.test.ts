import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../registry/index.ts';
import { describe, expect, it } from 'vitest';
import { payloadJsonSchemas } from '../api/index.ts';
import { SIMULATORS } from '../simulators/index.ts';
import { runCli } from './program.ts';

function capture(): { io: { out(t: string): void; err(t: string): void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => void out.push(t), err: (t) => void err.push(t) }, out, err };
}

describe('steward command line', () => {
  it('docs/schema/ holds what `steward schema` generates (`npm run docs:schema` after changing core/reading.ts or core/catalogue.ts)', () => {
    for (const [name, doc] of Object.entries(payloadJsonSchemas())) {
      const committed = JSON.parse(readFileSync(new URL(`../docs/schema/${name}`, import.meta.url), 'utf8'));
      expect(committed, `docs/schema/${name} is stale: run npm run docs:schema`).toEqual(doc);
    }
  });

  it('schema without --out prints every document as one JSON object', async () => {
    const c = capture();
    expect(await runCli(['node', 'steward', 'schema'], c.io)).toBe(0);
    const docs = JSON.parse(c.out.join(''));
    expect(Object.keys(docs)).toEqual(['reading.json', 'senml-pack.json']);
    expect(docs['reading.json'].required).toEqual(['ts', 'seq', 'metrics']);
  });

  it('sim --list prints every registered simulator with its domain, own interval and metrics', async () => {
    const c = capture();
    expect(await runCli(['node', 'steward', 'sim', '--list'], c.io)).toBe(0);
    const lines = c.out.join('\n').split('\n');
    expect(lines[0]).toMatch(/^KIND\s+DOMAIN\s+INTERVAL\s+METRICS\s+DESCRIPTION/);
    for (const def of Object.values(SIMULATORS)) {
      const own = (def.configSchema.parse({}) as { intervalS: number }).intervalS;
      expect(lines.some((l) => l.startsWith(`${def.kind} `) && l.includes(` ${def.domain} `) && l.includes(` ${own}s `) && def.metrics.every((m) => l.includes(m))), def.kind).toBe(true);
    }
  });

  it('usage errors exit 2, --help exits 0', async () => {
    const bad = capture();
    expect(await runCli(['node', 'steward', 'sensors', 'add', 'demo'], bad.io)).toBe(2);
    expect(bad.err.join('')).toContain("missing required argument 'domain'");
    const help = capture();
    expect(await runCli(['node', 'steward', '--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/sensors[\s\S]*accounts[\s\S]*start/);
  });

  it('--version prints the version of package.json and exits 0', async () => {
    const c = capture();
    expect(await runCli(['node', 'steward', '--version'], c.io)).toBe(0);
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(c.out.join('').trim()).toBe(version);
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

  it('rules backtest scores one scenario (JSON), and names an unknown one', async () => {
    const c = capture();
    expect(await runCli(['node', 'steward', 'rules', 'backtest', '--scenario', 'grid-outage', '--days', '2', '--format', 'json'], c.io)).toBe(0);
    const report = JSON.parse(c.out.join(''));
    expect(report).toMatchObject({ scenario: 'grid-outage', days: 2, verdict: { ok: true } });
    expect(report.rules.find((r: { rule: string }) => r.rule === 'battery-low')).toMatchObject({ firings: 1, truePositives: 1, falsePositives: 0, misses: 0, flaps: 0 });
    const bad = capture();
    expect(await runCli(['node', 'steward', 'rules', 'backtest', '--scenario', 'zombies'], bad.io)).toBe(2);
    expect(bad.err.join('')).toContain('unknown scenario "zombies"; known: normal, drought');
  }, 120_000);
});
