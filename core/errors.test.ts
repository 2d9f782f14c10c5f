import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REJECTION_CODES } from './errors.ts';

describe('rejection codes', () => {
  it('docs/errors.md lists exactly the codes ingest can emit', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_0-9]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(REJECTION_CODES).sort());
  });
});
