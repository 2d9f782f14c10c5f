import { describe, expect, it } from 'vitest';
import { matchToken } from './auth.ts';

describe('matchToken', () => {
  const tokens = [
    { name: 'alice', token: 'a'.repeat(24), role: 'technician' as const },
    { name: 'bob', token: 'b'.repeat(24), role: 'steward' as const },
  ];

  it('finds the token and gives its name and role, never the token', () => {
    expect(matchToken(tokens, 'b'.repeat(24))).toEqual({ name: 'bob', role: 'steward' });
    expect(matchToken(tokens, 'a'.repeat(24))).toEqual({ name: 'alice', role: 'technician' });
  });

  it('refuses prefixes, extensions, other case and the empty string', () => {
    for (const t of ['a'.repeat(23), 'a'.repeat(25), 'A'.repeat(24), '']) expect(matchToken(tokens, t)).toBeNull();
  });

  it('refuses everything when no token is configured', () => {
    expect(matchToken([], 'a'.repeat(24))).toBeNull();
  });
});
