import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import type { StoredReading } from '../core/store.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { exactCoordinate, expectNoPersonalData } from '../tests/harness/privacy.ts';
import { createPrivacyBoundary } from './boundary.ts';
import { fixedPolicy } from '../privacy/index.ts';
import { createPublicPublisher, publicTopic } from './public-publisher.ts';
import { defaultPolicy, reading } from '../privacy/testing.ts';
import { type TestBroker, startTestBroker } from './testing.ts';

let broker: TestBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true);
  await broker?.close();
  broker = undefined;
});

async function subscriber(port: number, filter: string): Promise<{ client: MqttClient; messages: Array<{ topic: string; payload: string; retain: boolean }> }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  clients.push(client);
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 0 });
  return { client, messages };
}

it('publishes only filtered records on public/v1/{hub}/{domain}/{sensor}, refusing anything that skipped the boundary', async () => {
  broker = await startTestBroker();
  const metrics = createMetrics();
  const anon = await subscriber(broker.port, '#');
  const boundary = createPrivacyBoundary({ policy: fixedPolicy(defaultPolicy()) });
  const publisher = createPublicPublisher({ publish: broker.publish, metrics });

  const personal = ['Alice Smith', 'alice@example.org', '7946 0958', 'H-0042', exactCoordinate(51.50735), exactCoordinate(-0.12776)];
  const raw = [
    reading({ location: { lat: 51.50735, lon: -0.12776, acc: 2 } }),
    reading({ domain: 'biodiversity', sensor: 'citizen-app', kind: 'citizen', metrics: { count: 1 }, species: 'Erithacus rubecula', location: { lat: 51.50735, lon: -0.12776 }, attributes: { observer_name: 'Alice Smith', observer_email: 'alice@example.org', note: 'ring +44 20 7946 0958' } }),
    reading({ domain: 'energy', sensor: 'home-battery', kind: 'battery', metrics: { battery_soc: 80 }, attributes: { household_id: 'H-0042', at_home: true }, location: { lat: 51.50735, lon: -0.12776 } }),
  ];
  const filtered = raw.map((r) => boundary.apply(r)!).filter(Boolean);
  // A wiring bug handing raw readings to the publisher must not leak them.
  const unfiltered = raw[1] as unknown as StoredReading;
  const res = await publisher.publish([...filtered, unfiltered, { ...filtered[0]!, metrics: { household_power: 1 } } as StoredReading]);
  expect(res).toEqual({ published: 3, refused: 2, failed: 0 });

  await expect.poll(() => anon.messages.length).toBe(3);
  expect(anon.messages.map((m) => m.topic)).toEqual(['public/v1/demo/water/well-1', 'public/v1/demo/biodiversity/citizen-app', 'public/v1/demo/energy/home-battery']);
  for (const m of anon.messages) expect(JSON.parse(m.payload)).toMatchObject({ policy: 'default-3', time: expect.any(String) });
  expect(JSON.parse(anon.messages[0]!.payload).location).toEqual({ lat: 51.505, lon: -0.125 });
  expectNoPersonalData(anon.messages, personal, 'public MQTT');
  expect((await metrics.privacyActions.get()).values.find((v) => v.labels.action === 'withheld')?.value).toBe(2);

  // Retained: a subscriber arriving later gets each sensor's latest record at once.
  const late = await subscriber(broker.port, 'public/v1/demo/+/+');
  await expect.poll(() => late.messages.length).toBe(3);
  expect(late.messages.every((m) => m.retain)).toBe(true);
  boundary.stop();
});

it('counts a failing MQTT side without throwing', async () => {
  const publisher = createPublicPublisher({ publish: async () => Promise.reject(new Error('broker down')) });
  const r = reading();
  expect(await publisher.publish([{ ...r, policy: 'p' }])).toEqual({ published: 0, refused: 0, failed: 1 });
  expect(publicTopic({ hub: 'demo', domain: 'water', sensor: 'well-1' })).toBe('public/v1/demo/water/well-1');
});

it('publishes every record of a topic someone reads, and only the latest of a topic nobody reads (kept retained)', async () => {
  const sent: string[] = [];
  const read = new Set(['public/v1/demo/water/well-1']);
  const publisher = createPublicPublisher({
    publish: async (topic, payload) => void sent.push(`${topic} ${JSON.parse(payload.toString()).metrics.groundwater_level}`),
    liveSubscribers: (topic) => read.has(topic),
  });
  const rec = (sensor: string, level: number): StoredReading => ({ ...reading({ sensor, metrics: { groundwater_level: level } }), policy: 'p' });
  const res = await publisher.publish([rec('well-1', 1), rec('well-2', 2), rec('well-1', 3), rec('well-2', 4)]);
  expect(sent).toEqual(['public/v1/demo/water/well-1 1', 'public/v1/demo/water/well-1 3', 'public/v1/demo/water/well-2 4']);
  expect(res).toEqual({ published: 3, refused: 0, failed: 0 });
  // Without retain a topic nobody reads costs nothing at all.
  const bare = createPublicPublisher({ publish: async (topic) => void sent.push(topic), liveSubscribers: () => false, retain: false });
  sent.length = 0;
  expect(await bare.publish([rec('well-1', 1)])).toEqual({ published: 0, refused: 0, failed: 0 });
  expect(sent).toEqual([]);
});
