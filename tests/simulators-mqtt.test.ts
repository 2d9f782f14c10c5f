/**
 * The simulator runner over real MQTT: a plain in-process Aedes broker (no ACL; the real broker is
 * tested elsewhere) on a free port, five simulated devices across the four commons at speed 3600
 * for about three seconds, and an mqtt.js subscriber watching what arrives.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePayload } from '../core/parse.ts';
import { parseTopic } from '../core/topics.ts';
import { demoFleet } from '../simulators/fleet.ts';
import { createSimRunner } from '../simulators/runner.ts';

const HUB = 'testhub';

/** Polls `cond` every 20 ms for up to `ms`. */
async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
const SENSORS = ['well-1', 'soil-meadow', 'pv-1', 'meter-01', 'acoustic-wood'];

describe('simulator runner over MQTT (in-process Aedes)', () => {
  let broker: Aedes;
  let server: Server;
  let url: string;
  let sub: MqttClient;
  const logins: { clientId: string; username: string; password: string }[] = [];
  const publishers = new Map<string, string>(); // topic -> client id of the publisher
  const data: { topic: string; payload: Buffer; receivedAt: number }[] = [];
  const status = new Map<string, string>();

  beforeAll(async () => {
    broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        if (client.id !== 'watcher') logins.push({ clientId: client.id, username: username ?? '', password: password?.toString() ?? '' });
        done(null, true);
      },
    });
    broker.on('publish', (packet, client) => {
      if (client && packet.topic.endsWith('/data')) publishers.set(`${packet.topic}#${client.id}`, client.id);
    });
    server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sub = await mqtt.connectAsync(url, { clientId: 'watcher', reconnectPeriod: 0 });
    sub.on('message', (topic, payload) => {
      if (topic.endsWith('/status')) status.set(topic, payload.toString());
      else data.push({ topic, payload, receivedAt: Date.now() });
    });
    await sub.subscribeAsync(['csm/v1/+/+/+/data', 'csm/v1/+/+/+/status'], { qos: 1 });
  });

  afterAll(async () => {
    await sub?.endAsync();
    await new Promise<void>((r) => broker?.close(() => r()));
    await new Promise<void>((r) => server?.close(() => r()));
  });

  it('publishes well-formed readings from one client per sensor, then stops cleanly', async () => {
    const fleet = demoFleet(HUB).filter((e) => SENSORS.includes(e.sensor));
    expect(fleet).toHaveLength(SENSORS.length);
    const runner = createSimRunner({
      brokerUrl: url,
      hub: HUB,
      fleet,
      credentials: (e) => ({ username: `${HUB}.${e.sensor}`, password: `pw-${e.sensor}` }),
      seed: 42,
      speed: 3600,
      tickMs: 50,
    });
    const t0 = Date.now();
    await runner.start();
    await new Promise((r) => setTimeout(r, 3000));
    const during = runner.stats();
    await runner.stop();
    const after = runner.stats();
    // Let the subscriber drain what the broker already forwarded.
    await waitFor(() => data.length >= after.published);

    // One login per device, client id = username = {hub}.{sensor}, with its own password.
    expect(logins.map((l) => l.clientId).sort()).toEqual(fleet.map((e) => `${HUB}.${e.sensor}`).sort());
    for (const l of logins) {
      expect(l.username).toBe(l.clientId);
      expect(l.password).toBe(`pw-${l.clientId.split('.')[1]}`);
    }

    // Readings on every sensor's own data topic, from that sensor's own client.
    const bySensor = new Map<string, number>();
    for (const d of data) {
      const parsed = parseTopic(d.topic);
      expect(parsed?.type).toBe('data');
      if (parsed?.type !== 'data') continue;
      expect(parsed.hub).toBe(HUB);
      const entry = fleet.find((e) => e.sensor === parsed.sensor);
      expect(entry?.domain).toBe(parsed.domain);
      expect(publishers.get(`${d.topic}#${HUB}.${parsed.sensor}`)).toBe(`${HUB}.${parsed.sensor}`);
      // Valid for ingest as it stands, judged at the moment it arrived: never from the future.
      const readings = parsePayload(d.payload, { hub: HUB, domain: parsed.domain, sensor: parsed.sensor, now: d.receivedAt, maxSkewMs: 0, ...(entry ? { site: entry.site, kind: entry.kind } : {}) });
      expect(readings[0]?.ts).toBeLessThanOrEqual(d.receivedAt);
      bySensor.set(parsed.sensor, (bySensor.get(parsed.sensor) ?? 0) + 1);
    }
    for (const e of fleet) {
      if (e.kind === 'acoustic-monitor') continue; // detections may be sparse at night
      expect(bySensor.get(e.sensor) ?? 0, e.sensor).toBeGreaterThanOrEqual(3);
      // Capped at 2 messages per real second per sensor.
      expect(bySensor.get(e.sensor) ?? 0, e.sensor).toBeLessThanOrEqual(2 * ((Date.now() - t0) / 1000) + 2);
    }

    // Simulated time ran ~3600x: about three simulated hours, starting 30 days back.
    expect(during.simTimeMs).toBeLessThan(Date.now() - 29 * 86_400_000);
    expect(during.caughtUp).toBe(false);
    const seqs = data
      .filter((d) => d.topic.includes('/well-1/'))
      .map((d) => JSON.parse(d.payload.toString()) as { ts: number; seq: number });
    expect(seqs.length).toBeGreaterThanOrEqual(3);
    const spanH = ((seqs[seqs.length - 1]?.ts ?? 0) - (seqs[0]?.ts ?? 0)) / 3_600_000;
    expect(spanH).toBeGreaterThan(1);
    expect(spanH).toBeLessThan(5);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]?.seq).toBeGreaterThan(seqs[i - 1]?.seq ?? -1);

    // stop(): every QoS 1 publish acknowledged, every device offline (retained), nothing left connected.
    expect(after.published).toBeGreaterThan(0);
    expect(after.acked).toBe(after.published);
    expect(after.failed).toBe(0);
    expect(after.dropped).toBe(0);
    expect(after.connected).toBe(0);
    expect(data.length).toBe(after.published);
    for (const e of fleet) expect(status.get(`csm/v1/${HUB}/${e.domain}/${e.sensor}/status`), e.sensor).toBe('{"state":"offline"}');
    expect(broker.connectedClients).toBe(1); // only the watcher
    await runner.stop(); // idempotent
  });

  it('never stamps a reading in the future: once the simulated clock catches up it runs in real time', async () => {
    data.length = 0;
    const fleet = demoFleet(HUB).filter((e) => e.sensor === 'pv-1' || e.sensor === 'demand-1');
    const runner = createSimRunner({
      brokerUrl: url,
      hub: HUB,
      fleet,
      credentials: (e) => ({ username: `${HUB}.${e.sensor}`, password: 'x' }),
      seed: 1,
      speed: 3600,
      startTime: Date.now() - 20 * 60_000, // 20 simulated minutes take a third of a real second
      intervalS: 1,
      tickMs: 50,
    });
    await runner.start();
    await new Promise((r) => setTimeout(r, 3000));
    expect(runner.stats().caughtUp).toBe(true);
    await runner.stop();
    await waitFor(() => data.length >= runner.stats().published);
    const late = data.map((d) => ({ ts: (JSON.parse(d.payload.toString()) as { ts: number }).ts, at: d.receivedAt }));
    expect(late.length).toBeGreaterThanOrEqual(5);
    for (const r of late) expect(r.ts).toBeLessThanOrEqual(r.at);
    // The last readings are live: stamped within a couple of seconds of their arrival.
    expect((late[late.length - 1]?.at ?? 0) - (late[late.length - 1]?.ts ?? 0)).toBeLessThan(2000);
  });

  it('keeps retrying while the broker is unreachable, and still stops promptly', async () => {
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const runner = createSimRunner({
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      hub: HUB,
      fleet: demoFleet(HUB).filter((e) => e.sensor === 'rain-1'),
      credentials: (e) => ({ username: `${HUB}.${e.sensor}`, password: 'x' }),
      seed: 1,
      speed: 60,
      connectTimeoutMs: 300,
      mqttOptions: { reconnectPeriod: 100 },
    });
    await runner.start();
    expect(runner.stats().connected).toBe(0);
    const t = Date.now();
    await runner.stop();
    expect(Date.now() - t).toBeLessThan(2000);
  });
});
