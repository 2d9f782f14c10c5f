/**
 * Scenario: an operator hands out API tokens with `steward tokens` while `steward start` runs
 * (two real processes sharing a data dir), and takes one back. Two hubs' devices send refused
 * messages, so each hub has dead letters: a token of one hub must not read the other's, nor
 * silence its alerts; a revoked token is refused at the very next request; a request without a
 * token gets 401 whatever its body.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './fixtures/broker-setup.ts';
import { stewardNode } from './fixtures/steward-node.ts';

describe('API tokens from the command line, without a restart', () => {
  const node = stewardNode('steward-tokens-');
  const cli = node.cli;
  const token = async (...args: string[]): Promise<string> => {
    const r = await cli('tokens', 'add', ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { token: string }).token;
  };
  const get = (path: string, t?: string): Promise<Response> => fetch(`${node.api}${path}`, t ? { headers: { authorization: `Bearer ${t}` } } : {});

  beforeAll(async () => {
    await node.start();
    // One refused message (no seq) from a device of each hub.
    for (const hub of ['demo', 'north']) {
      const add = await cli('sensors', 'add', hub, 'water', 'well-1', '--json');
      const { username, password, topic } = JSON.parse(add.stdout) as { username: string; password: string; topic: string };
      const device = await mqtt.connectAsync(node.mqttUrl, { username, password, clientId: username, reconnectPeriod: 0 });
      await device.publishAsync(topic, JSON.stringify({ ts: Date.now(), metrics: { groundwater_level: 1 } }), { qos: 1 });
      await device.endAsync();
    }
  }, 120_000);

  afterAll(() => node.stop());

  it('limits a hub-scoped technician token to its hub: its dead letters only, 403 for the other hub', async () => {
    const north = await token('north-tech', '--role', 'technician', '--hub', 'north');
    const mine = await waitFor(async () => {
      const body = (await (await get('/api/v1/rejections', north)).json()) as { rejections: Array<{ hub: string }> };
      return body.rejections.length ? body.rejections : undefined;
    }, 15_000, 'north dead letters');
    expect(mine.map((d) => d.hub)).toEqual(['north']);
    const other = await get('/api/v1/rejections?hub=demo', north);
    expect(other.status).toBe(403);
    expect(((await other.json()) as { message: string }).message).toBe('token north-tech is limited to hub north; this dead letter query belongs to hub demo');
  });

  it('refuses a hub-scoped steward token a silence over another hub', async () => {
    const north = await token('north-steward', '--role', 'steward', '--hub', 'north');
    const post = (matchers: Record<string, string>): Promise<Response> =>
      fetch(`${node.api}/api/v1/silences`, { method: 'POST', headers: { authorization: `Bearer ${north}`, 'content-type': 'application/json' }, body: JSON.stringify({ matchers, comment: 'pump maintenance', duration: '2h' }) });
    expect((await post({ hub: 'demo' })).status).toBe(403);
    expect((await post({ rule: 'battery-low' })).status).toBe(403);
    expect((await post({ hub: 'north' })).status).toBe(201);
  });

  it('refuses a revoked token at the next request, with no restart', async () => {
    const t = await token('ana', '--role', 'technician');
    expect((await get('/api/v1/rejections', t)).status).toBe(200);
    const r = await cli('tokens', 'revoke', 'ana');
    expect(r.code).toBe(0);
    const after = await get('/api/v1/rejections', t);
    expect(after.status).toBe(401);
  });

  it('answers 401, not field details, to an unauthenticated request with an invalid body', async () => {
    const r = await fetch(`${node.api}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchers: { colour: 'red' } }) });
    expect(r.status).toBe(401);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code: 'API_ERR_UNAUTHORIZED' });
    expect(JSON.stringify(body)).not.toMatch(/colour|matchers|comment/);
  });
});
