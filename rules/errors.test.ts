import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RULES_ERRORS } from './errors.ts';

describe('rules error codes', () => {
  it('README.md lists exactly the codes of errors.ts, with the same descriptions and statuses', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| `(RULES_ERR_[A-Z_]+)` \| *(\d*) *\| (.*) \|$/gm)].map((m) => [m[1], m[2] ? Number(m[2]) : 0, m[3]]);
    expect(rows).toEqual(Object.entries(RULES_ERRORS).map(([code, e]) => [code, e.status, e.description]));
  });
});
