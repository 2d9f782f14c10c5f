import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.ts';
import { harness, type Harness, HOUR, MIN, reading, T0 } from '../../../rules/testing.ts';
import { authPlugin } from '../../auth.ts';
import { type ApiContext, contextPlugin } from '../../context.ts';
import { errorsPlugin } from '../../error-handler.ts';
import { zodPlugin } from '../../zod.ts';
import alertsRoutes from './index.ts';

const STEWARD = 'steward-token-0123456789';
const TECH = 'technician-token-0123456789';
/** A steward of hub `north` only. */
const NORTH_STEWARD = 'north-steward-token-0123456789';

/**
 * The API's own infrastructure plugins (context, errors, zod, bearer auth) with the alert routes
 * over a real rules engine, as api/app.ts registers them. The context holds only the config and
 * the engine as the alerts service: the routes here need nothing else.
 */
async function app(h: Harness): Promise<FastifyInstance> {
  const a = Fastify();
  const config = parseConfig({
    http: {
      tokens: [
        { name: 'ana', token: STEWARD, role: 'steward' },
        { name: 'tom', token: TECH, role: 'technician' },
        { name: 'nora', token: NORTH_STEWARD, role: 'steward', hubs: ['north'] },
      ],
    },
  });
  await a.register(contextPlugin, { context: { config } as unknown as ApiContext, services: { alerts: h.engine } });
  await a.register(errorsPlugin);
  await a.register(zodPlugin);
  await a.register(authPlugin);
  await a.register(alertsRoutes, { prefix: '/api/v1' });
  await a.ready();
  return a;
}

const RULE = `
rules:
  - id: battery-low
    kind: threshold
    select: { metric: battery_soc }
    below: 20
    renotify: 1h
`;

describe('alerts API', () => {
  let h: Harness;
  let api: FastifyInstance;
  beforeEach(async () => {
    h = await harness(RULE);
    api = await app(h);
  });
  afterEach(async () => {
    await api.close();
    await h.close();
  });

  it('lists alerts with filters and serves one with its history', async () => {
    // Scenario: battery-1 firing, battery-2 resolved; a hub member reads the alerts without a token.
    await h.feed(reading('battery-1', T0, { battery_soc: 9 }), reading('battery-2', T0, { battery_soc: 9 }), reading('battery-2', T0 + MIN, { battery_soc: 25 }));
    const all = await api.inject('/api/v1/alerts');
    expect(all.statusCode).toBe(200);
    expect(all.json().alerts.map((a: { id: string; state: string }) => `${a.id}:${a.state}`)).toEqual(['demo.battery-low.battery-1:firing', 'demo.battery-low.battery-2:resolved']);
    const firing = await api.inject('/api/v1/alerts?state=firing,pending&hub=demo&severity=warning');
    expect(firing.json().alerts).toHaveLength(1);
    expect(firing.json().alerts[0].message).toBe('Battery charge at battery-1 (demo) is 9%, below the limit of 20%; observed since 2026-11-25 00:00 UTC');
    const one = await api.inject('/api/v1/alerts/demo.battery-low.battery-2');
    expect(one.json().alert.state).toBe('resolved');
    expect(one.json().history.map((e: { from: string; to: string }) => `${e.from}->${e.to}`)).toEqual(['firing->resolved', 'inactive->firing']);
  });

  it('answers precise errors: bad filter 400, unknown alert 404', async () => {
    const bad = await api.inject('/api/v1/alerts?state=burning');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'API_ERR_VALIDATION', message: expect.stringContaining('query parameter "state": "burning" is not a state') });
    const missing = await api.inject('/api/v1/alerts/demo.nope.x');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'API_ERR_NOT_FOUND', message: 'no alert "demo.nope.x"' });
  });

  it('ack needs a steward token; acknowledging stops re-notification', async () => {
    // Scenario: battery fires at 00:00; a technician tries to ack (403), ana acks at 00:30; by 03:00 no reminder went out.
    await h.feed(reading('battery-1', T0, { battery_soc: 9 }));
    const url = '/api/v1/alerts/demo.battery-low.battery-1/ack';
    expect((await api.inject({ method: 'POST', url })).statusCode).toBe(401);
    expect((await api.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TECH}` } })).statusCode).toBe(403);
    h.clock.set(T0 + 30 * MIN);
    const ok = await api.inject({ method: 'POST', url, headers: { authorization: `Bearer ${STEWARD}` }, payload: { comment: 'on it' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().alert.acknowledged).toEqual({ by: 'ana', at: '2026-11-25T00:30:00.000Z', comment: 'on it' });
    for (let k = 1; k <= 3; k++) {
      h.clock.set(T0 + k * HOUR);
      await h.tick();
    }
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'update']);
    await h.feed(reading('battery-1', T0 + MIN, { battery_soc: 30 }));
    const again = await api.inject({ method: 'POST', url, headers: { authorization: `Bearer ${STEWARD}` } });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toContain('is resolved; only pending or firing alerts can be acknowledged');
  });

  it("a steward's comments reach readers without a token only scrubbed", async () => {
    await h.feed(reading('battery-1', T0, { battery_soc: 9 }));
    const auth = { authorization: `Bearer ${STEWARD}` };
    const comment = 'Mrs Green at 12 Mill Lane says the inverter tripped; ring 07700 900461';
    await api.inject({ method: 'POST', url: '/api/v1/alerts/demo.battery-low.battery-1/ack', headers: auth, payload: { comment } });
    await api.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: { rule: 'battery-low', hub: 'demo' }, comment, duration: '2h' } });
    for (const url of ['/api/v1/alerts', '/api/v1/alerts/demo.battery-low.battery-1', '/api/v1/silences']) {
      const anon = await api.inject({ url });
      expect(anon.statusCode).toBe(200);
      expect(anon.body).toContain('[address removed]');
      for (const secret of ['Green', 'Mill Lane', '900461']) expect(anon.body, url).not.toContain(secret);
      expect((await api.inject({ url, headers: auth })).body).toContain('12 Mill Lane');
    }
  });

  it('silences: create (who, why, until), list, expire; silenced alerts are not notified', async () => {
    // Scenario: ana silences battery-low on hub demo for 2 h while the battery is swapped; the battery drops.
    const auth = { authorization: `Bearer ${STEWARD}` };
    const created = await api.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: { rule: 'battery-low', hub: 'demo' }, comment: 'swapping the battery', duration: '2h' } });
    expect(created.statusCode).toBe(201);
    const s = created.json().silence;
    expect(s).toMatchObject({ status: 'active', createdBy: 'ana', comment: 'swapping the battery', endsAt: '2026-11-25T02:00:00.000Z' });
    await h.feed(reading('battery-1', T0, { battery_soc: 9 }));
    expect(h.published).toHaveLength(0);
    expect((await api.inject('/api/v1/alerts')).json().alerts[0].silencedBy).toEqual([s.id]);
    expect((await api.inject('/api/v1/silences?status=active')).json().silences.map((x: { id: string }) => x.id)).toEqual([s.id]);
    const del = await api.inject({ method: 'DELETE', url: `/api/v1/silences/${s.id}`, headers: auth });
    expect(del.json().silence).toMatchObject({ status: 'expired', expiredBy: 'ana' });
    await h.tick();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing']);
  });

  it('refuses a silence without matchers, reason or end', async () => {
    const auth = { authorization: `Bearer ${STEWARD}` };
    const none = await api.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: {}, comment: 'x', duration: '1h' } });
    expect(none.statusCode).toBe(400);
    expect(none.json().message).toBe('a silence needs at least one matcher (rule, hub, subject or severity)');
    const noEnd = await api.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: { hub: 'demo' }, comment: 'x' } });
    expect(noEnd.statusCode).toBe(400);
    expect(noEnd.json().message).toBe('body: give exactly one of endsAt (ISO 8601) or duration (e.g. 2h)');
    const past = await api.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: { hub: 'demo' }, comment: 'x', endsAt: '2020-01-01T00:00:00Z' } });
    expect(past.statusCode).toBe(400);
    expect((await api.inject({ method: 'DELETE', url: '/api/v1/silences/00000000-0000-4000-8000-000000000000', headers: auth })).statusCode).toBe(404);
  });

  it('limits a hub-scoped steward token to its hub: 403 on another hub\'s alerts, silences must name its hub', async () => {
    // Scenario: demo's battery-1 and north's battery-9 both fire; nora stewards north only.
    await h.feed(reading('battery-1', T0, { battery_soc: 9 }), reading('battery-9', T0, { battery_soc: 9 }, { hub: 'north' }));
    const nora = { authorization: `Bearer ${NORTH_STEWARD}` };
    const ackDemo = await api.inject({ method: 'POST', url: '/api/v1/alerts/demo.battery-low.battery-1/ack', headers: nora, payload: {} });
    expect(ackDemo.statusCode).toBe(403);
    expect(ackDemo.json().message).toBe('token nora is limited to hub north; alert demo.battery-low.battery-1 belongs to hub demo');
    expect((await api.inject({ method: 'POST', url: '/api/v1/alerts/north.battery-low.battery-9/ack', headers: nora, payload: {} })).statusCode).toBe(200);
    expect((await api.inject({ url: '/api/v1/alerts/demo.battery-low.battery-1', headers: nora })).statusCode).toBe(403);
    const listed = await api.inject({ url: '/api/v1/alerts', headers: nora });
    expect(listed.json().alerts.map((a: { id: string }) => a.id)).toEqual(['north.battery-low.battery-9']);
    // The other filters still apply to a limited token's list.
    expect((await api.inject({ url: '/api/v1/alerts?severity=info', headers: nora })).json().alerts).toEqual([]);
    expect((await api.inject({ url: '/api/v1/alerts?subject=battery-1', headers: nora })).json().alerts).toEqual([]);
    expect((await api.inject({ url: '/api/v1/alerts?rule=battery-low&subject=battery-9', headers: nora })).json().alerts).toHaveLength(1);
    expect((await api.inject({ url: '/api/v1/alerts?hub=demo', headers: nora })).statusCode).toBe(403);
    // Without a token, alerts stay readable by everyone (no personal data).
    expect((await api.inject('/api/v1/alerts')).json().alerts).toHaveLength(2);
    const everywhere = await api.inject({ method: 'POST', url: '/api/v1/silences', headers: nora, payload: { matchers: { rule: 'battery-low' }, comment: 'maintenance', duration: '2h' } });
    expect(everywhere.statusCode).toBe(403);
    const north = await api.inject({ method: 'POST', url: '/api/v1/silences', headers: nora, payload: { matchers: { hub: 'north' }, comment: 'maintenance', duration: '2h' } });
    expect(north.statusCode).toBe(201);
    const ana = { authorization: `Bearer ${STEWARD}` };
    const demoSilence = (await api.inject({ method: 'POST', url: '/api/v1/silences', headers: ana, payload: { matchers: { hub: 'demo' }, comment: 'x', duration: '1h' } })).json().silence.id as string;
    expect((await api.inject({ method: 'DELETE', url: `/api/v1/silences/${demoSilence}`, headers: nora })).statusCode).toBe(403);
    expect((await api.inject({ url: '/api/v1/silences', headers: nora })).json().silences).toHaveLength(1);
  });

  it('checks the token before the body: 401 for an unauthenticated invalid silence, without field details', async () => {
    const r = await api.inject({ method: 'POST', url: '/api/v1/silences', payload: { matchers: { nonsense: 1 }, comment: '' } });
    expect(r.statusCode).toBe(401);
    expect(r.json()).not.toHaveProperty('parameter');
    expect(r.json().message).not.toMatch(/matchers|comment/);
  });
});
