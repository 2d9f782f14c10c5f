import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createError, createHttpError, REJECTION_CODES, RejectionError } from './errors.ts';

describe('rejection codes', () => {
  it('docs/errors.md lists exactly the codes ingest can emit', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_0-9]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(REJECTION_CODES).sort());
  });
});

describe('createError', () => {
  it('makes a class whose errors carry name, code, message and cause', () => {
    const DemoError = createError<'DEMO_ERR_A' | 'DEMO_ERR_B'>('DemoError');
    const cause = new Error('underneath');
    const e = new DemoError('DEMO_ERR_B', 'what went wrong', { cause });
    expect(e).toBeInstanceOf(DemoError);
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.code, e.message, e.cause]).toEqual(['DemoError', 'DEMO_ERR_B', 'what went wrong', cause]);
    expect(DemoError.name).toBe('DemoError');
    expect(String(e)).toBe('DemoError: what went wrong');
    expect(e.stack?.split('\n')[0]).toBe('DemoError: what went wrong');
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'DEMO_ERR_B', name: 'DemoError' });
    expect(new RejectionError('schema', 'x')).not.toBeInstanceOf(DemoError);
  });

  it('can be extended with fields of its own', () => {
    class StatusError extends createError<'S_ERR'>('StatusError') {
      readonly statusCode = 409;
    }
    const e = new StatusError('S_ERR', 'conflict');
    expect(e).toMatchObject({ name: 'StatusError', code: 'S_ERR', message: 'conflict', statusCode: 409 });
  });

  it('createHttpError adds the status of the code (500 where the table has none)', () => {
    const HttpError = createHttpError<'H_ERR_GONE' | 'H_ERR_INNER'>('HttpError', { H_ERR_GONE: { status: 410 }, H_ERR_INNER: { status: 0 } });
    const e = new HttpError('H_ERR_GONE', 'gone');
    expect(e).toBeInstanceOf(HttpError);
    expect(HttpError.name).toBe('HttpError');
    expect(e).toMatchObject({ name: 'HttpError', code: 'H_ERR_GONE', message: 'gone', statusCode: 410 });
    expect(new HttpError('H_ERR_INNER', 'x').statusCode).toBe(500);
  });
});
