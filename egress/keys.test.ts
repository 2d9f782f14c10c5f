import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectShortKeyRefused } from '../privacy/testing.ts';
import { createKeyring } from './keys.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('keyring', () => {
  it('takes keys from the config and the environment (which wins), lower-casing env ids', () => {
    const ring = createKeyring({ keys: { hub: 'c'.repeat(32) }, env: { STEWARD_PRIVACY_KEY_HUB: 'e'.repeat(32), STEWARD_PRIVACY_KEY_ROT_2: 'f'.repeat(40), OTHER: 'x' } });
    expect(ring.get('hub')?.toString()).toBe('e'.repeat(32));
    expect(ring.get('rot_2')?.toString()).toBe('f'.repeat(40));
    expect(ring.get('missing')).toBeUndefined();
  });

  it('refuses short secrets and bad ids, naming the key and never the secret', () => {
    const secret = 'short-secret-value';
    expectShortKeyRefused(() => createKeyring({ keys: { hub: secret }, env: {} }), secret);
    expect(() => createKeyring({ keys: { 'Bad Id': 'x'.repeat(40) }, env: {} })).toThrow(/key id/);
  });

  it('generates a missing key once under its directory (mode 0600) and reads it back after a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-keys-'));
    dirs.push(dir);
    const generated: string[] = [];
    const a = createKeyring({ env: {}, dir: join(dir, 'keys'), generate: true, onGenerated: (id) => generated.push(id) }).get('hub');
    expect(a).toBeDefined();
    expect(generated).toEqual(['hub']);
    expect(statSync(join(dir, 'keys', 'hub.key')).mode & 0o777).toBe(0o600);
    const b = createKeyring({ env: {}, dir: join(dir, 'keys') }).get('hub');
    expect(b?.equals(a!)).toBe(true);
    expect(createKeyring({ env: {}, dir: join(dir, 'keys') }).get('other')).toBeUndefined();
  });
});
