import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApi, TOKENS, type TestApi } from '../../testing.ts';

const tech = { authorization: `Bearer ${TOKENS.technician}` };

describe('GET /api/v1/rejections', () => {
  let t: TestApi | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function withDeadLetters(): Promise<TestApi> {
    t = await makeTestApi();
    const at = Date.parse('2024-06-01T12:00:00Z');
    t.deadLetters.add({ receivedAt: at, topic: 'csm/v1/demo/water/well-1/data', hub: 'demo', sensor: 'well-1', code: 'out_of_range', reason: 'ph 15 above 14', payload: Buffer.from('{"ts":1,"seq":1,"metrics":{"ph":15}}') });
    t.deadLetters.add({ receivedAt: at + 1, topic: 'csm/v1/demo/water/well-1/data', hub: 'demo', sensor: 'well-1', code: 'malformed_json', reason: 'Unexpected token', payload: Buffer.from([0xff, 0x00, 0x7b]) });
    t.deadLetters.add({ receivedAt: at + 2, topic: 'csm/v1/east/soil/probe/data', hub: 'east', sensor: 'probe', code: 'unknown_metric', reason: 'metric "x"', payload: Buffer.from('{}') });
    return t;
  }

  it('needs a token: 401 without one', async () => {
    const api = await withDeadLetters();
    const r = await api.app.inject('/api/v1/rejections');
    expect(r.statusCode).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(r.json()).toEqual({ statusCode: 401, error: 'Unauthorized', code: 'API_ERR_UNAUTHORIZED', message: 'this endpoint needs a bearer token with role technician' });
    expect(r.body).not.toContain('ph 15');
  });

  it('is for technicians only: 403 for a steward token', async () => {
    const api = await withDeadLetters();
    const r = await api.app.inject({ url: '/api/v1/rejections', headers: { authorization: `Bearer ${TOKENS.steward}` } });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ code: 'API_ERR_FORBIDDEN', message: 'role steward may not use this endpoint (needs technician)' });
    expect(r.body).not.toContain('ph 15');
  });

  it('refuses a wrong token with 401', async () => {
    const api = await withDeadLetters();
    const r = await api.app.inject({ url: '/api/v1/rejections', headers: { authorization: `Bearer ${TOKENS.technician}x` } });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ code: 'API_ERR_UNAUTHORIZED', message: 'the bearer token is not valid' });
  });

  it('gives technicians the dead letters, newest first, with reason and raw payload', async () => {
    const api = await withDeadLetters();
    const r = await api.app.inject({ url: '/api/v1/rejections', headers: tech });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { rejections: Array<Record<string, unknown>>; next: number | null };
    expect(body.rejections.map((d) => d.code)).toEqual(['unknown_metric', 'malformed_json', 'out_of_range']);
    expect(body.rejections[2]).toMatchObject({
      topic: 'csm/v1/demo/water/well-1/data', hub: 'demo', sensor: 'well-1', reason: 'ph 15 above 14',
      payload: '{"ts":1,"seq":1,"metrics":{"ph":15}}', payloadEncoding: 'utf8', receivedTime: '2024-06-01T12:00:00.000Z',
    });
    expect(body.rejections[1]).toMatchObject({ payload: Buffer.from([0xff, 0x00, 0x7b]).toString('base64'), payloadEncoding: 'base64' });
    expect(body.next).toBeNull();
  });

  it('filters by hub and code and pages backwards with next/before', async () => {
    const api = await withDeadLetters();
    const hub = (await api.app.inject({ url: '/api/v1/rejections?hub=demo', headers: tech })).json() as { rejections: Array<{ hub: string }> };
    expect(hub.rejections.map((d) => d.hub)).toEqual(['demo', 'demo']);
    const code = (await api.app.inject({ url: '/api/v1/rejections?code=out_of_range', headers: tech })).json() as { rejections: Array<{ code: string }> };
    expect(code.rejections.map((d) => d.code)).toEqual(['out_of_range']);
    const page1 = (await api.app.inject({ url: '/api/v1/rejections?limit=2', headers: tech })).json() as { rejections: Array<{ code: string }>; next: number };
    expect(page1.rejections).toHaveLength(2);
    const page2 = (await api.app.inject({ url: `/api/v1/rejections?limit=2&before=${page1.next}`, headers: tech })).json() as { rejections: Array<{ code: string }>; next: number | null };
    expect(page2.rejections.map((d) => d.code)).toEqual(['out_of_range']);
    expect(page2.next).toBeNull();
  });

  it('names a bad parameter', async () => {
    const api = await withDeadLetters();
    const r = await api.app.inject({ url: '/api/v1/rejections?code=nonsense', headers: tech });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ parameter: 'code', message: 'query parameter "code": unknown rejection code "nonsense"' });
  });

  it('answers 503 when this process has no dead-letter store', async () => {
    t = await makeTestApi({ extra: { deadLetters: undefined } });
    const r = await t.app.inject({ url: '/api/v1/rejections', headers: tech });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'API_ERR_UNAVAILABLE' });
  });
});
