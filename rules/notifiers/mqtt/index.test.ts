import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness, reading, T0 } from '../../testing.ts';

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A real Aedes broker on a free port (no auth: the broker's ACL is tested in broker/). */
async function broker(): Promise<{ url: string; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise((r) => server.close(r));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

async function subscriber(url: string, filter: string): Promise<{ client: MqttClient; got: Received[] }> {
  const client = await connectAsync(url, { clientId: `sub-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 0 });
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, got };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('mqtt notifier (Aedes and mqtt.js over real sockets)', () => {
  let h: Harness | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('firing is retained on the alert topic (a late subscriber gets it); resolve clears it', async () => {
    // Scenario: the engine publishes through a real mqtt.js client; a hub member subscribes before,
    // another one after the alert fires; then the battery recovers.
    const b = await broker();
    closers.push(b.close);
    const pub = await connectAsync(b.url, { clientId: 'rules', reconnectPeriod: 0 });
    closers.push(() => pub.endAsync());
    const early = await subscriber(b.url, 'csm/v1/demo/alerts/#');
    closers.push(() => early.client.endAsync());
    h = await harness(
      `
rules:
  - id: battery-low
    kind: threshold
    select: { metric: battery_soc }
    below: 20
`,
      { publish: async (topic, payload, opts) => void (await pub.publishAsync(topic, payload, opts)) },
    );
    await h.feed(reading('battery-1', T0, { battery_soc: 9 }));
    await until(() => early.got.length === 1);
    expect(early.got[0]?.topic).toBe('csm/v1/demo/alerts/battery-low/battery-1');
    expect(JSON.parse(early.got[0]?.payload as string)).toMatchObject({ state: 'firing', severity: 'warning', message: expect.stringMatching(/^Battery charge at battery-1 \(demo\) is 9%, below the limit of 20%; observed since 2026-11-25 00:00 UTC$/) });

    const late = await subscriber(b.url, 'csm/v1/demo/alerts/#');
    closers.push(() => late.client.endAsync());
    await until(() => late.got.length === 1);
    expect(late.got[0]?.retain).toBe(true);
    expect(JSON.parse(late.got[0]?.payload as string).state).toBe('firing');

    await h.feed(reading('battery-1', T0 + 60_000, { battery_soc: 30 }));
    await until(() => early.got.length === 3);
    expect(JSON.parse(early.got[1]?.payload as string)).toMatchObject({ state: 'resolved', event: 'resolved' });
    expect(early.got[2]?.payload).toBe('');

    const after = await subscriber(b.url, 'csm/v1/demo/alerts/#');
    closers.push(() => after.client.endAsync());
    await new Promise((r) => setTimeout(r, 200));
    expect(after.got).toEqual([]); // nothing retained any more
  });
});
