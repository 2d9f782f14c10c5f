import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PSEUDONYM_PATTERN, memoryKeyring, pseudonymOf } from './keys.ts';
import { expectShortKeyRefused } from './testing.ts';

const S1 = Buffer.from('a'.repeat(40));
const S2 = Buffer.from('b'.repeat(40));

describe('pseudonyms', () => {
  it('are keyed HMACs, not hashes: stable under one key, different under another, per field', () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const a = pseudonymOf(S1, 'k1', 'household_id', v);
        expect(a).toMatch(PSEUDONYM_PATTERN);
        expect(pseudonymOf(S1, 'k1', 'household_id', v)).toBe(a);
        expect(pseudonymOf(S2, 'k2', 'household_id', v).split(':')[1]).not.toBe(a.split(':')[1]);
        expect(pseudonymOf(S1, 'k1', 'observer_email', v)).not.toBe(a);
      }),
    );
  });
});

describe('memory keyring', () => {
  it('holds the secrets given and refuses short ones and bad ids, naming the key and never the secret', () => {
    const ring = memoryKeyring({ hub: 'c'.repeat(32) });
    expect(ring.get('hub')?.toString()).toBe('c'.repeat(32));
    expect(ring.get('missing')).toBeUndefined();
    expect(() => ring.get('Bad Id')).toThrow(/key id/);
    const secret = 'short-secret-value';
    expectShortKeyRefused(() => memoryKeyring({ hub: secret }), secret);
  });
});
