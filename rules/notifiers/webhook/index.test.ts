import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertMessage } from '../../alert.ts';
import { Dispatcher, type DeliveryOutcome } from '../../dispatcher.ts';
import { webhookSchema } from '../../spec.ts';
import { harness, type Harness, reading, T0 } from '../../testing.ts';
import { createWebhookNotifier } from './index.ts';

interface Hit {
  at: number;
  body: { version: string; event: string; alert: AlertMessage };
  headers: IncomingMessage['headers'];
}

/** A real HTTP receiver on a free port answering from a script: one handler per request, the last repeats. */
async function receiver(script: Array<(res: ServerResponse) => void>): Promise<{ url: string; hits: Hit[]; server: Server }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      hits.push({ at: performance.now(), body: JSON.parse(data), headers: req.headers });
      const step = script[Math.min(hits.length - 1, script.length - 1)] as (res: ServerResponse) => void;
      step(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits, server };
}

const status = (code: number, headers: Record<string, string> = {}) => (res: ServerResponse) => res.writeHead(code, headers).end(code >= 400 ? 'nope' : 'ok');

const ALERT = { id: 'demo.battery-low.battery-1', hub: 'demo', rule: 'battery-low', subject: 'battery-1', episode: 1, state: 'firing', message: 'Battery charge at battery-1 (demo) is 9%' } as AlertMessage;

/**
 * Delivers one notification through the dispatcher (the retry stage) and reports how it ended;
 * `waits` receives the backoff of each retry as the dispatcher logs it (retryInMs).
 */
async function deliver(cfg: Record<string, unknown>, waits: number[] = []): Promise<DeliveryOutcome> {
  const notifier = createWebhookNotifier(webhookSchema.parse({ name: 'ops', ...cfg }));
  let outcome: DeliveryOutcome | undefined;
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const { retryInMs } = JSON.parse(line) as { retryInMs?: number };
        if (retryInMs !== undefined) waits.push(retryInMs);
      },
    },
  );
  const d = new Dispatcher({ logger, random: () => 0.5, onResult: (_id, _t, _n, o) => (outcome = o) });
  d.send(notifier, { event: 'firing', alert: ALERT });
  await d.idle();
  return outcome as DeliveryOutcome;
}

describe('webhook notifier', () => {
  const servers: Server[] = [];
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('503, 503, then 200: delivered on the third attempt after 100 ms and 200 ms of backoff', async () => {
    // Scenario: a receiver that is briefly down; initial backoff 100 ms doubling (jitter pinned to 1×).
    const r = await receiver([status(503), status(503), status(200)]);
    servers.push(r.server);
    const waits: number[] = [];
    expect(await deliver({ url: r.url, backoff: { initial: '100ms', max: '10s' } }, waits)).toBe('delivered');
    expect(r.hits).toHaveLength(3);
    expect(waits).toEqual([100, 200]); // doubled: the backoff the dispatcher chose, exactly
    const [a, b, c] = r.hits.map((x) => x.at) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(95);
    expect(c - b).toBeGreaterThanOrEqual(195); // and waited (upper bounds are not asserted: a loaded machine only adds delay)
    expect(r.hits[2]?.body).toMatchObject({ version: '1', event: 'firing', alert: { id: 'demo.battery-low.battery-1' } });
    expect(r.hits[2]?.headers['content-type']).toBe('application/json');
  });

  it('400 is not retried: the receiver refused the alert', async () => {
    // Scenario: a receiver that rejects the payload.
    const r = await receiver([status(400)]);
    servers.push(r.server);
    expect(await deliver({ url: r.url, backoff: { initial: '10ms' } })).toBe('rejected');
    expect(r.hits).toHaveLength(1);
  });

  it('429 with Retry-After: 1 waits a second even though the backoff is 10 ms', async () => {
    // Scenario: a rate-limited receiver.
    const r = await receiver([status(429, { 'retry-after': '1' }), status(204)]);
    servers.push(r.server);
    expect(await deliver({ url: r.url, backoff: { initial: '10ms' } })).toBe('delivered');
    expect((r.hits[1]?.at as number) - (r.hits[0]?.at as number)).toBeGreaterThanOrEqual(990);
  });

  it('a receiver slower than the timeout is retried; the next, quick answer delivers', async () => {
    // Scenario: first answer after 600 ms (timeout 150 ms), second at once.
    const r = await receiver([(res) => setTimeout(() => res.writeHead(200).end(), 600), status(200)]);
    servers.push(r.server);
    const t0 = performance.now();
    expect(await deliver({ url: r.url, timeout: '150ms', backoff: { initial: '20ms' } })).toBe('delivered');
    expect(r.hits).toHaveLength(2);
    expect(performance.now() - t0).toBeLessThan(600);
  });

  it('a closed port is a network error: retried until maxAttempts, then left for later', async () => {
    // Scenario: nothing listens; 3 attempts.
    const r = await receiver([status(200)]);
    await new Promise((res) => r.server.close(res));
    expect(await deliver({ url: r.url, maxAttempts: 3, backoff: { initial: '10ms' } })).toBe('failed');
  });

  it('through the engine: firing and resolved are posted; the acknowledgement is not', async () => {
    // Scenario: a rule routed to webhook "ops"; the battery fires, is acknowledged, recovers.
    const r = await receiver([status(200)]);
    servers.push(r.server);
    h = await harness(`
webhooks:
  - name: ops
    url: ${r.url}
    headers: { authorization: Bearer s3cret }
rules:
  - id: battery-low
    kind: threshold
    select: { metric: battery_soc }
    below: 20
    webhooks: [ops]
`);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.engine.ack('demo.battery-low.battery-1', 'ana');
    await h.feed(reading('battery-1', T0 + 60_000, { battery_soc: 30 }));
    expect(r.hits.map((x) => x.body.event)).toEqual(['firing', 'resolved']);
    expect(r.hits[0]?.headers.authorization).toBe('Bearer s3cret');
    expect(r.hits[1]?.body.alert.message).toMatch(/^Resolved: Battery charge at battery-1 \(demo\) is 30%/);
  });
});
