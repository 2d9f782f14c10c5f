import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createConsoleService } from '../console/index.ts';
import { defaultPolicy } from '../privacy/testing.ts';
import type { AlertsService } from './services.ts';
import { makeTestApi, TOKENS, type TestApi } from './testing.ts';

describe('the API as a whole', () => {
  let t: TestApi | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('/openapi.json lists every route with its query parameters', async () => {
    t = await makeTestApi();
    const r = await t.app.inject('/openapi.json');
    expect(r.statusCode).toBe(200);
    const doc = r.json() as { openapi: string; paths: Record<string, { get: { parameters?: Array<{ name: string; in: string; required: boolean }>; responses: Record<string, unknown>; security?: unknown } }> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/api/v1/catalogue', '/api/v1/readings', '/api/v1/readings/latest', '/api/v1/readings/species', '/api/v1/rejections', '/api/v1/schema/reading.json', '/api/v1/schema/senml-pack.json', '/api/v1/sensors', '/health', '/metrics', '/openapi.json', '/ready'].sort(),
    );
    const params = (path: string): string[] => (doc.paths[path]?.get.parameters ?? []).map((p) => `${p.name}${p.required ? '!' : ''}`);
    expect(params('/api/v1/readings')).toEqual(['sensor!', 'metric!', 'hub', 'from', 'to', 'window', 'agg', 'limit', 'resolution']);
    expect(params('/api/v1/readings/species')).toEqual(['hub', 'site', 'from', 'to']);
    expect(params('/api/v1/readings/latest')).toEqual(['hub', 'domain', 'sensor']);
    expect(params('/api/v1/sensors')).toEqual(['hub', 'domain']);
    expect(params('/api/v1/rejections')).toEqual(['hub', 'code', 'before', 'limit']);
    expect(doc.paths['/api/v1/rejections']?.get.security).toEqual([{ bearer: [] }]);
    // Every route documents the error body.
    for (const [path, item] of Object.entries(doc.paths)) expect(item.get.responses, path).toHaveProperty('default');
    expect(doc.paths['/api/v1/readings']?.get.responses).toHaveProperty('200');
  });

  it('serves the routes of each service it is given, documented like the others', async () => {
    const policy = defaultPolicy();
    // The routes' schemas only: no request here reaches the alerts service.
    const alerts = {} as AlertsService;
    // No page built there: the page answers 503, the routes are all the same.
    const page = createConsoleService({ build: 'never', distDir: join(tmpdir(), 'steward-console-not-built') });
    t = await makeTestApi({ extra: { services: { policy: { current: () => policy }, alerts, console: page } } });
    const doc = (await t.app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>> };
    const more = ['/api/v1/privacy/policy', '/api/v1/public/readings/latest', '/api/v1/public/readings', '/api/v1/alerts', '/api/v1/alerts/{id}', '/api/v1/alerts/{id}/ack', '/api/v1/silences', '/api/v1/silences/{id}', '/api/v1/stream', '/api/v1/console/config', '/api/v1/console/session', '/api/v1/console/biodiversity'];
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(more));
    for (const path of more) for (const [method, op] of Object.entries(doc.paths[path] ?? {})) expect(op.responses, `${method} ${path}`).toHaveProperty('default');
    // Answers are documented with their schemas (core/views.ts).
    expect(JSON.stringify(doc.paths['/api/v1/alerts']?.get?.responses['200'])).toContain('silencedBy');
    expect(JSON.stringify(doc.paths['/api/v1/public/readings']?.get?.responses['200'])).toContain('resolution');
    expect(JSON.stringify(doc.paths['/api/v1/console/config']?.get?.responses['200'])).toContain('thresholds');
    expect(Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/assets'))).toBe(false);
  });

  it('answers unknown routes with the JSON error shape', async () => {
    t = await makeTestApi();
    const r = await t.app.inject('/api/v1/nothing?x=1');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ statusCode: 404, error: 'Not Found', code: 'API_ERR_NOT_FOUND', message: 'no route GET /api/v1/nothing; see /openapi.json for the routes' });
  });

  it('refuses a wrong or malformed bearer token even on a public route', async () => {
    t = await makeTestApi();
    const wrong = await t.app.inject({ url: '/api/v1/catalogue', headers: { authorization: 'Bearer not-a-token-at-all-xxxxx' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'API_ERR_UNAUTHORIZED', message: 'the bearer token is not valid' });
    const basic = await t.app.inject({ url: '/api/v1/catalogue', headers: { authorization: 'Basic dXNlcjpwdw==' } });
    expect(basic.statusCode).toBe(401);
    expect(basic.json().message).toMatch(/must be "Bearer <token>"/);
  });

  it('rate-limits unauthenticated requests per address, but not requests with a valid token', async () => {
    t = await makeTestApi({ rawConfig: { http: { rateLimit: { max: 3, timeWindowMs: 60_000 } } } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await t.app.inject('/api/v1/catalogue')).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const limited = await t.app.inject('/health');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests', code: 'API_ERR_RATE_LIMITED', message: expect.stringMatching(/at most 3 per 60 s without a token/) });
    // Unknown routes count too (no free probing).
    expect((await t.app.inject('/nope')).statusCode).toBe(429);
    // Another address has its own budget.
    expect((await t.app.inject({ url: '/health', remoteAddress: '10.0.0.9' })).statusCode).toBe(200);
    // A valid token is exempt.
    for (let i = 0; i < 5; i++) {
      const r = await t.app.inject({ url: '/api/v1/catalogue', headers: { authorization: `Bearer ${TOKENS.steward}` } });
      expect(r.statusCode).toBe(200);
    }
  });

  it('never writes a token to the logs, and hides internal errors from clients', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
    const logger = pino({ level: 'trace' }, sink);
    t = await makeTestApi({ extra: { logger } });
    await t.app.inject({ url: '/api/v1/rejections', headers: { authorization: `Bearer ${TOKENS.technician}` } });
    await t.app.inject({ url: '/api/v1/catalogue', headers: { authorization: `Bearer ${TOKENS.technician}-wrong` } });
    // Storage failing in an unexpected way: the client gets a generic 500, the log gets the details.
    await t.store.stop();
    const r = await t.app.inject('/api/v1/readings/latest');
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', code: 'API_ERR_INTERNAL', message: expect.stringMatching(/^internal error \(request id .+\)$/) });
    const log = lines.join('');
    expect(log).toContain('request failed');
    expect(log).toContain('"role":"api"');
    expect(log).not.toContain(TOKENS.technician);
    expect(log).not.toContain('tech-token');
  });

  it('answers 503 with Retry-After when storage is unreachable', async () => {
    t = await makeTestApi();
    const { RetryableStorageError } = await import('../core/store.ts');
    // Double: an unreachable InfluxDB is what throws this; the embedded store cannot be unreachable.
    t.store.latest = async () => {
      throw new RetryableStorageError('ECONNREFUSED 127.0.0.1:8086', 3000);
    };
    const r = await t.app.inject('/api/v1/readings/latest');
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('3');
    expect(r.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', code: 'API_ERR_STORAGE_UNAVAILABLE', message: 'storage is not answering, retry later' });
  });

  it('logs each request at debug, so an info-level terminal shows none', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
    const logger = pino({ level: 'info' }, sink);
    t = await makeTestApi({ extra: { logger } });
    expect((await t.app.inject('/health')).statusCode).toBe(200);
    expect(lines.join('')).not.toMatch(/incoming request|request completed/);
    logger.level = 'debug';
    await t.app.inject('/health');
    const debug = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.msg === 'request completed');
    expect(debug.map((l) => l.level)).toEqual([20]);
  });
});
