import { readFileSync } from 'node:fs';
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
