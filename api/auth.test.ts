import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../registry/index.ts';
import { matchToken } from './auth.ts';
import { makeTestApi, type TestApi } from './testing.ts';

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

describe('tokens from the registry (steward tokens add)', () => {
  const bearer = (t: string): { authorization: string } => ({ authorization: `Bearer ${t}` });
  const deadLetter = (hub: string): Parameters<TestApi['deadLetters']['add']>[0] => ({ receivedAt: Date.now(), topic: `csm/v1/${hub}/water/well-1/data`, hub, sensor: 'well-1', code: 'out_of_range', reason: 'test', payload: Buffer.from('{}') });
  let api: TestApi;
  beforeEach(async () => {
    api = await makeTestApi();
    api.deadLetters.add(deadLetter('north'));
    api.deadLetters.add(deadLetter('south'));
  });
  afterEach(async () => {
    await api.close();
  });

  it('accepts a token added while the API runs, and refuses it at the next request once revoked by another process', async () => {
    const { token } = api.registry.addToken({ name: 'ana', role: 'technician' });
    expect((await api.app.inject({ url: '/api/v1/rejections', headers: bearer(token) })).statusCode).toBe(200);
    const other = Registry.open(api.dataDir);
    expect(other.revokeToken('ana')).toBe(true);
    other.close();
    const r = await api.app.inject({ url: '/api/v1/rejections', headers: bearer(token) });
    expect(r.statusCode).toBe(401);
    expect(r.json().message).toBe('the bearer token is not valid');
  });

  it('refuses an expired token, saying so', async () => {
    // Made a second ago with a life of one millisecond: expired already, no waiting.
    const made = Date.now() - 1000;
    const { token } = api.registry.addToken({ name: 'old', role: 'technician', expiresAt: made + 1, now: made });
    const r = await api.app.inject({ url: '/api/v1/rejections', headers: bearer(token) });
    expect(r.statusCode).toBe(401);
    expect(r.json().message).toMatch(/^the bearer token old expired on /);
  });

  it('limits a hub-scoped token to its hubs: 403 for another hub, its own hub by default', async () => {
    const { token } = api.registry.addToken({ name: 'north-tech', role: 'technician', hubs: ['north'] });
    const mine = await api.app.inject({ url: '/api/v1/rejections', headers: bearer(token) });
    expect(mine.statusCode).toBe(200);
    expect(mine.json().rejections.map((d: { hub: string }) => d.hub)).toEqual(['north']);
    const other = await api.app.inject({ url: '/api/v1/rejections?hub=south', headers: bearer(token) });
    expect(other.statusCode).toBe(403);
    expect(other.json().message).toBe('token north-tech is limited to hub north; this dead letter query belongs to hub south');
    const two = api.registry.addToken({ name: 'both', role: 'technician', hubs: ['north', 'south'] });
    const unnamed = await api.app.inject({ url: '/api/v1/rejections', headers: bearer(two.token) });
    expect(unnamed.statusCode).toBe(400);
    expect(unnamed.json().parameter).toBe('hub');
  });

  it('keeps config tokens working, with hubs too', async () => {
    const t = await makeTestApi({ rawConfig: { http: { tokens: [{ name: 'cfg', token: 'config-token-0123456789', role: 'technician', hubs: ['south'] }] } } });
    t.deadLetters.add(deadLetter('north'));
    expect((await t.app.inject({ url: '/api/v1/rejections?hub=north', headers: bearer('config-token-0123456789') })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/api/v1/rejections?hub=south', headers: bearer('config-token-0123456789') })).statusCode).toBe(200);
    await t.close();
  });

  it('checks the role before the query: 401 without a token even when the query is invalid', async () => {
    const r = await api.app.inject({ url: '/api/v1/rejections?code=nonsense&limit=-4' });
    expect(r.statusCode).toBe(401);
    expect(r.json()).not.toHaveProperty('parameter');
  });

  it('shows a hub-scoped token only its hubs\' readings and sensors (403 when it asks for another)', async () => {
    const ts = Date.now() - 60_000;
    await api.seed([
      { hub: 'north', domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'water', ts, seq: 1, metrics: { groundwater_level: 3 } },
      { hub: 'south', domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'water', ts, seq: 1, metrics: { groundwater_level: 7 } },
    ]);
    await api.registry.addSensor({ hub: 'north', domain: 'water', sensor: 'well-1' });
    await api.registry.addSensor({ hub: 'south', domain: 'water', sensor: 'well-1' });
    const { token } = api.registry.addToken({ name: 'north-tech', role: 'technician', hubs: ['north'] });
    const latest = await api.app.inject({ url: '/api/v1/readings/latest', headers: bearer(token) });
    expect(latest.json().readings.map((r: { hub: string }) => r.hub)).toEqual(['north']);
    expect((await api.app.inject({ url: '/api/v1/readings/latest?hub=south', headers: bearer(token) })).statusCode).toBe(403);
    const series = await api.app.inject({ url: '/api/v1/readings?sensor=well-1&metric=groundwater_level', headers: bearer(token) });
    expect(series.statusCode).toBe(200);
    expect(series.json()).toMatchObject({ hub: 'north', points: [{ value: 3 }] });
    expect((await api.app.inject({ url: '/api/v1/readings?hub=south&sensor=well-1&metric=groundwater_level', headers: bearer(token) })).statusCode).toBe(403);
    const sensors = await api.app.inject({ url: '/api/v1/sensors', headers: bearer(token) });
    expect(sensors.json().sensors.map((x: { hub: string }) => x.hub)).toEqual(['north']);
    // Without a token, open data stays open.
    expect((await api.app.inject('/api/v1/readings/latest')).json().readings).toHaveLength(2);
  });
});
