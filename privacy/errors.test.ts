import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { PRIVACY_ACTIONS, PRIVACY_ERRORS, PrivacyError } from './errors.ts';

const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');

it('README lists every error code and only those', () => {
  const documented = new Set(readme.match(/PRIVACY_ERR_[A-Z_]+/g));
  expect([...documented].sort()).toEqual(Object.keys(PRIVACY_ERRORS).sort());
});

it('README lists every privacy action in its metrics table', () => {
  const table = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## Error codes'));
  const documented = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(Object.keys(PRIVACY_ACTIONS).sort());
});

it('errors carry their code', () => {
  const e = new PrivacyError('PRIVACY_ERR_KEY', 'x');
  expect(e).toMatchObject({ name: 'PrivacyError', code: 'PRIVACY_ERR_KEY', message: 'x' });
});
