/**
 * The external-broker subscriber against a real broker over real sockets: Steward's Aedes broker
 * started WITHOUT an intake, i.e. a plain relay that keeps a persistent session for the subscriber
 * the way Mosquitto does. Devices are mqtt.js clients; the subscriber feeds a real intake and
 * SQLite spool, or (where a test needs to hold acknowledgements) a sink that records messages.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBroker, type Broker } from '../broker/index.ts';
import { parseConfig } from '../core/config.ts';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import { silentLogger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { Intake } from './intake.ts';
import { Spool } from './spool.ts';
import { closeIntakeParts, openIntakeParts } from './testing.ts';
import { createSubscriber, type MessageSink, type Subscriber, type SubscriberOptions } from './subscriber.ts';

const TOPIC = 'csm/v1/demo/water/well-1/data';
const FILTER = 'csm/v1/+/+/+/data';
const CONFIG = { maxSkewMs: 300_000, maxPayloadBytes: 65_536, batchSize: 5000 };
const reading = (seq: number): string => JSON.stringify({ ts: Date.now(), seq, metrics: { groundwater_level: 40 + seq / 1000 } });
const seqOf = (payload: string | Buffer): number => (JSON.parse(payload.toString()) as { seq: number }).seq;

async function until<T>(check: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sink that keeps every `done` until the test releases it (an intake that has not committed yet). */
function holdingSink() {
  const held: Array<{ topic: string; payload: Buffer; done: () => void }> = [];
  const sink: MessageSink = {
    submit: (topic, payload, done) => void held.push({ topic, payload, done }),
    flush: () => false,
  };
  return { sink, held };
}

describe('external-broker subscriber', () => {
  let dir: string;
  let registry: Registry;
  let broker: Broker;
  let url: string;
  let ingestPassword: string;
  let spool: Spool;
  let deadLetters: DeadLetterStore;
  let intake: Intake;
  let transactions: number;
  let device: MqttClient;
  const subscribers: Subscriber[] = [];

  const subscriber = (o: Partial<SubscriberOptions> & { sink: MessageSink }): Subscriber => {
    const s = createSubscriber({ url, clientId: 'ingest-test', username: 'ingest', password: ingestPassword, filters: [FILTER], logger: silentLogger, reconnectMinMs: 50, reconnectMaxMs: 200, ...o });
    subscribers.push(s);
    return s;
  };

  beforeEach(async () => {
    let metrics: PipelineMetrics;
    ({ dir, registry, deadLetters, metrics } = openIntakeParts('steward-subscriber-'));
    await registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', password: 'pw-well-1-secret' });
    ingestPassword = (await registry.addAccount({ name: 'ingest', role: 'service' })).password;
    const config = parseConfig({ dataDir: dir, mqtt: { port: 0, wsPort: 0, host: '127.0.0.1' } });
    broker = createBroker({ config: config.mqtt, registry, logger: silentLogger }); // no intake: a plain relay
    url = `mqtt://127.0.0.1:${(await broker.start()).mqtt}`;
    spool = new Spool(dir);
    transactions = 0;
    const append = spool.append.bind(spool);
    spool.append = (rs) => {
      transactions++;
      append(rs);
    };
    intake = new Intake({ spool, deadLetters, registry, metrics, logger: silentLogger, config: CONFIG });
    device = await mqtt.connectAsync(url, { clientId: 'demo.well-1', username: 'demo.well-1', password: 'pw-well-1-secret', protocolVersion: 4, clean: true });
  });

  afterEach(async () => {
    for (const s of subscribers.splice(0)) await s.stop();
    await device.endAsync();
    await broker.stop();
    closeIntakeParts({ dir, intake, spool, deadLetters, registry });
  });

  it('sends no PUBACK before the reading is in the spool, and commits many in-flight messages per transaction', async () => {
    const seqByMid = new Map<number, number>();
    const early: number[] = [];
    let pubacks = 0;
    // What the spool holds, read incrementally (ids only grow; nothing forwards in this test).
    const inSpool = new Set<number>();
    let lastId = 0;
    const spooled = (seq: number): boolean => {
      if (!inSpool.has(seq)) {
        for (const r of spool.take(10_000, lastId)) {
          inSpool.add(r.reading.seq);
          lastId = r.id;
        }
      }
      return inSpool.has(seq);
    };
    const s = subscriber({
      sink: intake,
      onPacketIn: (p) => {
        if (p.cmd === 'publish' && p.messageId !== undefined) seqByMid.set(p.messageId, seqOf(p.payload));
      },
      onPacketOut: (p) => {
        if (p.cmd !== 'puback') return;
        pubacks++;
        // The moment this PUBACK is written: its reading must already be in the spool.
        const seq = seqByMid.get(p.messageId!)!;
        if (!spooled(seq)) early.push(seq);
      },
    });
    await s.start();
    const N = 400;
    await Promise.all(Array.from({ length: N }, (_, seq) => device.publishAsync(TOPIC, reading(seq), { qos: 1 })));
    await until(() => pubacks >= N);
    expect(early).toEqual([]);
    expect(new Set(spool.take(10_000).map((r) => r.reading.seq)).size).toBe(N);
    expect(spool.depth()).toBe(N);
    // Pipelined: the relay sends many PUBLISHes before any PUBACK, the intake commits them together.
    expect(transactions).toBeLessThan(N / 10);
  });

  it('gets the messages it had not acknowledged redelivered after it was killed', async () => {
    const { sink, held } = holdingSink();
    const out: Packet[] = [];
    const a = subscriber({ sink, onPacketOut: (p) => void out.push(p) });
    await a.start();
    const N = 30;
    for (let seq = 0; seq < N; seq++) device.publish(TOPIC, reading(seq), { qos: 1 });
    await until(() => held.length >= N);
    expect(out.filter((p) => p.cmd === 'puback')).toEqual([]); // nothing durable, nothing acknowledged
    a.abort(); // as kill -9: the connection drops, no DISCONNECT, no PUBACK

    const redelivered: IPublishPacket[] = [];
    const b = subscriber({
      sink: intake,
      onPacketIn: (p) => {
        if (p.cmd === 'publish') redelivered.push(p);
      },
    });
    await b.start();
    await until(() => spool.depth() >= N);
    expect(spool.take(1000).map((r) => r.reading.seq).sort((x, y) => x - y)).toEqual([...Array(N).keys()]);
    // Every one came again from the broker's session (Aedes does not set DUP on them; Mosquitto does).
    expect(new Set(redelivered.map((p) => seqOf(p.payload))).size).toBe(N);
  });

  it('acknowledges a redelivered message that became durable while its connection was down, without submitting it again', async () => {
    const { sink, held } = holdingSink();
    const pubacks: number[] = [];
    const s = subscriber({ sink, onPacketOut: (p) => void (p.cmd === 'puback' && pubacks.push(p.messageId!)) });
    await s.start();
    const N = 10;
    for (let seq = 0; seq < N; seq++) device.publish(TOPIC, reading(seq), { qos: 1 });
    await until(() => held.length >= N);
    // Another connection takes the session over (the broker drops ours), then leaves without acknowledging anything.
    await takeOverSession(url, 'ingest-test', 'ingest', ingestPassword);
    await until(() => !s.connected());
    for (const h of held) h.done(); // the intake commits while we are disconnected
    await until(() => pubacks.length >= N); // acknowledged when the broker redelivers them
    expect(held).toHaveLength(N); // no second submission
    expect(s.unacked()).toBe(0);
  });

  it('says clearly when the broker refuses the connection', async () => {
    const s = subscriber({ sink: intake, password: 'wrong-password' });
    await expect(s.start(5000)).rejects.toThrow(/refused the connection of "ingest-test": (bad user name or password|not authorized)/);
  });

  it('says clearly when the broker refuses a subscription', async () => {
    const hubPw = (await registry.addAccount({ name: 'member', role: 'hub', hub: 'demo' })).password;
    const s = subscriber({ sink: intake, clientId: 'member-1', username: 'member', password: hubPw });
    await expect(s.start(5000)).rejects.toThrow(/refused the subscription to csm\/v1\/\+\/\+\/\+\/data/);
  });

  it('with keepTrying, starts while the broker is still unreachable and subscribes once it is up', async () => {
    const gate = await relay(url, { closed: true }); // refuses connections until opened: the broker is not up yet
    try {
      const s = subscriber({ sink: intake, url: gate.url, keepTrying: true });
      await s.start(500); // resolves: the source may come up later
      expect(s.connected()).toBe(false);
      gate.open();
      await until(() => s.connected(), 30_000);
      // Connected is not yet subscribed (the SUBACK follows): the device sends until its reading arrives.
      for (let seq = 0; spool.depth() === 0; seq++) {
        if (seq > 60) throw new Error('no reading reached the spool within 30 s of the connection');
        await device.publishAsync(TOPIC, reading(seq), { qos: 1 });
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await gate.close();
    }
  }, 45_000); // a loaded machine may take a while to reconnect and authenticate

  it('without keepTrying, fails its start when the broker is unreachable', async () => {
    const gate = await relay(url, { closed: true });
    try {
      await expect(subscriber({ sink: intake, url: gate.url }).start(500)).rejects.toThrow(/not subscribed at .* within 500 ms/);
    } finally {
      await gate.close();
    }
  });

  it('publishes at QoS 1, and keeps a QoS 1 publish made while disconnected until the connection is back', async () => {
    const watcher = await mqtt.connectAsync(url, { clientId: 'watcher', username: 'ingest', password: ingestPassword, protocolVersion: 4 });
    const got: string[] = [];
    watcher.on('message', (_t, p) => got.push(p.toString()));
    await watcher.subscribeAsync('csm/v1/demo/rejected', { qos: 1 });
    const s = subscriber({ sink: intake, reconnectMinMs: 500, reconnectMaxMs: 500 });
    await s.start();
    await s.publish('csm/v1/demo/rejected', 'one', { qos: 1 });
    await takeOverSession(url, 'ingest-test', 'ingest', ingestPassword);
    await until(() => !s.connected());
    await expect(s.publish('csm/v1/demo/rejected', 'zero', { qos: 0 })).rejects.toThrow(/not connected/);
    await s.publish('csm/v1/demo/rejected', 'two', { qos: 1 }); // kept, sent after the reconnection, resolved on its PUBACK
    await until(() => got.length >= 2);
    expect(got).toEqual(['one', 'two']);
    await watcher.endAsync();
  });

  it('opens a new connection when the broker stops answering within the keepalive', async () => {
    const path = await relay(url);
    try {
      const s = subscriber({ sink: intake, url: path.url, keepaliveS: 1 });
      await s.start();
      path.freeze(); // the path in use stops carrying the broker's bytes: no PINGRESP comes back
      await until(() => !s.connected(), 5000);
      await until(() => s.connected(), 5000); // a new connection (the relay carries new ones)
      await device.publishAsync(TOPIC, reading(7), { qos: 1 });
      await until(() => spool.depth() === 1);
    } finally {
      await path.close();
    }
  });

  it('connects over TLS (mqtts://), checking the broker\'s certificate', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const config = parseConfig({ dataDir: dir, mqtt: { port: 0, wsPort: 0, host: '127.0.0.1', tlsCert: cert, tlsKey: key } });
    const tlsBroker = createBroker({ config: config.mqtt, registry, logger: silentLogger });
    const ports = await tlsBroker.start();
    try {
      const s = subscriber({ sink: intake, url: `mqtts://localhost:${ports.tls!}`, tls: { ca: readFileSync(cert) } });
      await s.start();
      const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'demo.well-1', username: 'demo.well-1', password: 'pw-well-1-secret', protocolVersion: 4 });
      await dev.publishAsync(TOPIC, reading(3), { qos: 1 });
      await until(() => spool.depth() === 1);
      await s.stop();
      await dev.endAsync();
    } finally {
      await tlsBroker.stop();
    }
  });

  it('answers a QoS 2 message with PUBREC once durable, never submits it twice, and completes on PUBREL', async () => {
    // A conforming broker never sends QoS 2 on a QoS 1 subscription, so no real broker here can
    // produce this exchange: a scripted server on a real socket stands in for one that does.
    const fromClient: Packet[] = [];
    const server = createServer((sock) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p: Packet) => {
        fromClient.push(p);
        if (p.cmd === 'connect') sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
        if (p.cmd === 'subscribe') sock.write(mqttPacket.generate({ cmd: 'suback', messageId: p.messageId!, granted: [1] }));
      });
      sock.on('data', (b: Buffer) => parser.parse(b));
      sock.on('error', () => undefined);
      server.emit('client', sock);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new Promise<Socket>((r) => server.once('client', r));
    const { sink, held } = holdingSink();
    const s = subscriber({ sink, url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}` });
    try {
      await s.start();
      const sock = await client;
      const payload = Buffer.from(reading(9));
      const publish = (dup: boolean): boolean => sock.write(mqttPacket.generate({ cmd: 'publish', topic: TOPIC, payload, qos: 2, messageId: 5, dup, retain: false }));
      publish(false);
      await until(() => held.length === 1);
      const acks = (): Array<Packet['cmd']> => fromClient.filter((p) => p.cmd.startsWith('pub')).map((p) => p.cmd);
      expect(acks()).toEqual([]);
      held[0]!.done();
      await until(() => acks().length === 1);
      publish(true); // resent before PUBREL: acknowledged again, not submitted again
      await until(() => acks().length === 2);
      sock.write(mqttPacket.generate({ cmd: 'pubrel', messageId: 5 }));
      await until(() => acks().length === 3);
      expect(acks()).toEqual(['pubrec', 'pubrec', 'pubcomp']);
      expect(held).toHaveLength(1);
    } finally {
      s.abort();
      await new Promise((r) => server.close(r));
    }
  });

  it('stops cleanly: commits what the intake holds, writes those PUBACKs, then DISCONNECT', async () => {
    const out: Packet['cmd'][] = [];
    const s = subscriber({ sink: intake, onPacketOut: (p) => void out.push(p.cmd) });
    await s.start();
    await device.publishAsync(TOPIC, reading(1), { qos: 1 });
    await until(() => spool.depth() === 1);
    await s.stop();
    expect(out.at(-1)).toBe('disconnect');
    expect(out.filter((c) => c === 'puback')).toHaveLength(1);
    expect(s.connected()).toBe(false);
  });
});

/**
 * Connects with the subscriber's client id and clean=false (the broker closes the subscriber's
 * connection: session takeover), reads the CONNACK and disconnects at once, acknowledging nothing.
 */
function takeOverSession(url: string, clientId: string, username: string, password: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: hostname, port: Number(port) });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      if (p.cmd !== 'connack') return;
      if (p.returnCode) reject(new Error(`takeover refused: ${p.returnCode}`));
      sock.end(mqttPacket.generate({ cmd: 'disconnect' }));
    });
    sock.on('data', (b: Buffer) => parser.parse(b));
    sock.on('error', reject);
    sock.on('close', () => resolve());
    sock.on('connect', () => sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: false, keepalive: 30, username, password: Buffer.from(password) })));
  });
}

/**
 * A TCP relay in front of the broker whose existing connections can be frozen: the broker's bytes
 * stop reaching the client (a hung broker, a dead network path). New connections pass normally.
 */
/**
 * A TCP relay to the broker at `target`. `closed`: it drops every connection until `open()` (a
 * broker not up yet). `freeze()` stops carrying the broker's bytes on the connections open now (a
 * path that went dead without a FIN); new connections are carried.
 */
async function relay(target: string, o: { closed?: boolean } = {}): Promise<{ url: string; open(): void; freeze(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  let opened = !o.closed;
  const pairs: Array<{ client: Socket; up: Socket }> = [];
  const server = createServer((client) => {
    if (!opened) return void client.destroy();
    const up = netConnect({ host: hostname, port: Number(port) });
    client.pipe(up);
    up.pipe(client);
    const end = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
    pairs.push({ client, up });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${addr.port}`,
    open() {
      opened = true;
    },
    freeze() {
      for (const { client, up } of pairs) {
        up.unpipe(client);
        up.pause();
      }
    },
    async close() {
      for (const { client, up } of pairs) {
        client.destroy();
        up.destroy();
      }
      await new Promise((r) => server.close(r));
    },
  };
}
