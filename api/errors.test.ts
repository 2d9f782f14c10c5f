import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ERRORS, ApiError, errorBody, invalidParameter } from './errors.ts';

describe('API error codes', () => {
  it('api/README.md lists exactly the codes of errors.ts, with their status', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| `(API_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(Object.entries(API_ERRORS).map(([code, d]) => [code, d.status]));
  });

  it('builds the error body with the HTTP reason phrase', () => {
    expect(errorBody('API_ERR_NOT_FOUND', 'no such thing')).toEqual({ statusCode: 404, error: 'Not Found', code: 'API_ERR_NOT_FOUND', message: 'no such thing' });
    const e = invalidParameter('from', 'must be before "to"');
    expect(e).toBeInstanceOf(ApiError);
    expect([e.statusCode, e.code, e.message, e.extra]).toEqual([400, 'API_ERR_VALIDATION', 'query parameter "from": must be before "to"', { parameter: 'from' }]);
  });
});
