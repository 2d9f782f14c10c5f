import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH } from '../privacy/index.ts';
import { testKeyring } from '../privacy/testing.ts';
import { createPolicyWatcher } from './watcher.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function policyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'steward-policy-'));
  dirs.push(dir);
  const p = join(dir, 'policy.yaml');
  writeFileSync(p, readFileSync(DEFAULT_POLICY_PATH));
  return p;
}

it('an invalid policy on reload is refused with its error, and the previous policy stays in force', () => {
  const path = policyFile();
  const errors: string[] = [];
  const w = createPolicyWatcher({ path, keyring: testKeyring(), onError: (e) => errors.push(e.message) });
  expect(w.current().version).toBe('default-3');
  expect(w.reload()).toEqual({ status: 'unchanged', version: 'default-3' });

  writeFileSync(path, readFileSync(path, 'utf8').replace('observer_email: drop', 'observer_email: keep').replace('version: default-3', 'version: default-4'));
  const r = w.reload();
  expect(r.status).toBe('refused');
  expect(r.version).toBe('default-3');
  expect(w.current().version).toBe('default-3');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain('attributes.observer_email');

  writeFileSync(path, 'version: [broken');
  expect(w.reload().status).toBe('refused');
  expect(w.current().version).toBe('default-3');

  writeFileSync(path, readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace('version: default-3', 'version: default-4'));
  expect(w.reload()).toEqual({ status: 'reloaded', version: 'default-4' });
  expect(w.current().version).toBe('default-4');
});

it('polls the file and swaps a valid new policy in by itself', async () => {
  const path = policyFile();
  const changes: string[] = [];
  const w = createPolicyWatcher({ path, keyring: testKeyring(), intervalMs: 20, onChange: (n, p) => changes.push(`${p.version}->${n.version}`) });
  w.start();
  try {
    // mtime has a coarse resolution on some file systems: wait before rewriting.
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(path, readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace('version: default-3', 'version: polled-1'));
    await expect.poll(() => w.current().version, { timeout: 5000 }).toBe('polled-1');
    expect(changes).toEqual(['default-3->polled-1']);
  } finally {
    w.stop();
  }
});

it('fails fast at start-up on an invalid policy', () => {
  const path = policyFile();
  writeFileSync(path, 'version: x\nmetrics: { household_power: keep }');
  expect(() => createPolicyWatcher({ path, keyring: testKeyring() })).toThrow(/household_power/);
  expect(() => createPolicyWatcher({ path: join(path, 'missing'), keyring: testKeyring() })).toThrow(expect.objectContaining({ code: 'PRIVACY_ERR_POLICY_FILE' }));
});
