import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH } from '../privacy/index.ts';
import { testKeyring } from '../privacy/testing.ts';
import { loadPolicy, readPolicyFile } from './policy-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('loads and compiles the shipped policy', () => {
  expect(loadPolicy(DEFAULT_POLICY_PATH, { keyring: testKeyring() }).version).toBe('default-3');
});

it('refuses a file it cannot read, and names the file in errors of its content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-policy-'));
  dirs.push(dir);
  expect(() => loadPolicy(join(dir, 'missing.yaml'), { keyring: testKeyring() })).toThrow(expect.objectContaining({ code: 'PRIVACY_ERR_POLICY_FILE' }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: x\nattributes: { observer_email: keep }\n');
  expect(() => loadPolicy(bad, { keyring: testKeyring() })).toThrow(/bad\.yaml/);
  expect(readPolicyFile(bad).hash).toMatch(/^[0-9a-f]{64}$/);
});
