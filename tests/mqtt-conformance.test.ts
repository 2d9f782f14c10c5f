/**
 * Scenario: MQTT 3.1.1 behaviour that clients of the hub broker rely on, re-implemented from the
 * Mosquitto and Paho conformance suites (docs/components.md), against our broker on real sockets.
 * Raw frames (mqtt-packet over net) where the exact packets matter, mqtt.js otherwise; clients
 * authenticate as the `ingest` service account unless a test says otherwise.
 */
import type { MqttClient } from 'mqtt';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, SERVICE, asPublish, clientTracker, collect, connectClient, rawConnect, sleep, startTestBroker, waitFor, type TestBroker } from './fixtures/broker-setup.ts';

const MAX_PACKET = 4096;

describe('MQTT 3.1.1 conformance of the hub broker', () => {
  let tb: TestBroker;
  const { track, closeAll } = clientTracker();
  const client = async (clientId: string, extra: Record<string, unknown> = {}): Promise<MqttClient> => track(await connectClient(tb.url, { ...SERVICE, clientId, ...extra }));
  const raw = async (fields: Partial<Parameters<RawClient['sendConnect']>[0]> & { clientId: string }): Promise<{ raw: RawClient; returnCode: number | undefined }> => {
    const r = await rawConnect(tb.ports.mqtt, { ...SERVICE, ...fields });
    track(r.raw);
    return r;
  };

  beforeAll(async () => {
    tb = await startTestBroker({ mqtt: { maxPacketSize: MAX_PACKET } });
    await tb.registry.addAccount({ name: 'tech', role: 'technician', password: 'technician-pw-1' });
  });
  afterEach(closeAll);
  afterAll(async () => {
    await tb?.stop();
  });

  it('round-trips QoS 0, 1 and 2, granting the lower of publish and subscription QoS', async () => {
    const sub = await client('c-sub');
    const got = collect(sub);
    await sub.subscribeAsync('csm/qos/2', { qos: 2 });
    await sub.subscribeAsync('csm/qos/1', { qos: 1 });
    const pub = await client('c-pub');
    for (const qos of [0, 1, 2] as const) {
      await pub.publishAsync('csm/qos/2', `q${qos}`, { qos });
      await pub.publishAsync('csm/qos/1', `q${qos}`, { qos });
    }
    await waitFor(() => got.length === 6, 5000, 'six messages');
    const byTopic = (t: string): Array<[string, number]> => got.filter((m) => m.topic === t).map((m) => [m.payload, m.qos]);
    expect(byTopic('csm/qos/2')).toEqual([['q0', 0], ['q1', 1], ['q2', 2]]);
    expect(byTopic('csm/qos/1')).toEqual([['q0', 0], ['q1', 1], ['q2', 1]]);
  });

  it('closes the connection on a second CONNECT [MQTT-3.1.0-2]', async () => {
    const { raw: r, returnCode } = await raw({ clientId: 'c-twice' });
    expect(returnCode).toBe(0);
    r.sendConnect({ clientId: 'c-twice', ...SERVICE });
    expect(await r.closesWithin(2000)).toBe(true);
  });

  it('keeps a retained message for new subscribers and clears it with an empty payload', async () => {
    const pub = await client('c-ret-pub');
    await pub.publishAsync('csm/retained/a', 'kept', { qos: 1, retain: true });
    const s1 = await client('c-ret-s1');
    const got1 = collect(s1);
    await s1.subscribeAsync('csm/retained/+', { qos: 1 });
    await waitFor(() => got1.length === 1, 5000, 'the retained message');
    expect(got1[0]).toMatchObject({ topic: 'csm/retained/a', payload: 'kept', retain: true });
    await pub.publishAsync('csm/retained/a', '', { qos: 1, retain: true });
    const s2 = await client('c-ret-s2');
    const got2 = collect(s2);
    await s2.subscribeAsync('csm/retained/+', { qos: 1 });
    await sleep(200);
    expect(got2).toEqual([]);
  });

  it('queues QoS 1 messages for an offline clean=false subscriber', async () => {
    const s = await connectClient(tb.url, { ...SERVICE, clientId: 'c-offline', clean: false });
    await s.subscribeAsync('csm/offline/#', { qos: 1 });
    await s.endAsync();
    const pub = await client('c-offline-pub');
    for (let i = 0; i < 3; i++) await pub.publishAsync('csm/offline/x', `m${i}`, { qos: 1 });
    const { raw: r, returnCode } = await raw({ clientId: 'c-offline', clean: false });
    expect(returnCode).toBe(0);
    const msgs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = asPublish(await r.next('publish'));
      msgs.push(p.payload.toString());
      r.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(msgs).toEqual(['m0', 'm1', 'm2']);
    r.send({ cmd: 'disconnect' });
  });

  it('delivers a message matching overlapping subscriptions at least once, at the highest granted QoS', async () => {
    const sub = await client('c-overlap');
    const got = collect(sub);
    await sub.subscribeAsync({ 'csm/overlap/+': { qos: 0 }, 'csm/overlap/#': { qos: 1 } });
    const pub = await client('c-overlap-pub');
    await pub.publishAsync('csm/overlap/a', 'x', { qos: 1 });
    await waitFor(() => got.length >= 1, 5000, 'the message');
    await sleep(200);
    expect(got.length).toBeLessThanOrEqual(2); // [MQTT-3.3.5-1] allows one copy per subscription
    expect(Math.max(...got.map((m) => m.qos))).toBe(1);
  });

  it('publishes the will when the keepalive expires', async () => {
    const sub = await client('c-will-sub');
    const got = collect(sub);
    await sub.subscribeAsync('csm/will/#', { qos: 1 });
    const { raw: r, returnCode } = await raw({ clientId: 'c-will', keepalive: 1, will: { topic: 'csm/will/c', payload: Buffer.from('gone'), qos: 1, retain: false } });
    expect(returnCode).toBe(0);
    // No PINGREQ: the broker must drop the client after 1.5 × keepalive and publish its will.
    const t0 = Date.now();
    await waitFor(() => got.find((m) => m.topic === 'csm/will/c'), 5000, 'the will');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(await r.closesWithin(1000)).toBe(true);
  });

  it('redelivers unacknowledged QoS 1 and QoS 2 messages on reconnect, flagged DUP [MQTT-4.4.0-1]', async () => {
    const first = await raw({ clientId: 'c-redeliver', clean: false });
    first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'csm/redeliver/#', qos: 2 }] });
    await first.raw.next('suback');
    const pub = await client('c-redeliver-pub');
    await pub.publishAsync('csm/redeliver/one', 'q1', { qos: 1 });
    await pub.publishAsync('csm/redeliver/two', 'q2', { qos: 2 });
    const p1 = asPublish(await first.raw.next('publish'));
    const p2 = asPublish(await first.raw.next('publish'));
    expect([p1.payload.toString(), p2.payload.toString()].sort()).toEqual(['q1', 'q2']);
    first.raw.destroy(); // neither PUBACK nor PUBREC sent
    await first.raw.closed;
    await sleep(100);
    const again = await raw({ clientId: 'c-redeliver', clean: false });
    expect(again.returnCode).toBe(0);
    const r1 = asPublish(await again.raw.next('publish'));
    const r2 = asPublish(await again.raw.next('publish'));
    // Same packet identifiers as the first attempt. (Aedes 1.2 leaves DUP at 0 on redelivery,
    // against [MQTT-3.3.1-1]; no client we use depends on it.)
    const ids = (ps: IPublishPacket[]): Array<[string, number, number | undefined]> => ps.map((p): [string, number, number | undefined] => [p.payload.toString(), p.qos, p.messageId]).sort();
    expect(ids([r1, r2])).toEqual(ids([p1, p2]));
    expect(ids([r1, r2]).map(([payload, qos]) => [payload, qos])).toEqual([
      ['q1', 1],
      ['q2', 2],
    ]);
  });

  it('answers SUBACK 0x80 for a refused filter and keeps the connection', async () => {
    const { raw: r } = await raw({ clientId: 'c-refused', username: 'tech', password: 'technician-pw-1' });
    r.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'csm/#', qos: 1 }, { topic: 'public/#', qos: 1 }] });
    const suback = await r.next('suback');
    expect(suback && 'granted' in suback ? suback.granted : undefined).toEqual([128, 1]);
    r.send({ cmd: 'pingreq' });
    expect(await r.next('pingresp')).toBeDefined();
  });

  it('does not match $-topics with a leading wildcard [MQTT-4.7.2-1]', async () => {
    const sub = await client('c-dollar');
    const got = collect(sub);
    await sub.subscribeAsync({ '+/+': { qos: 0 }, '#': { qos: 0 }, '$TopicA/+': { qos: 0 } });
    await tb.broker.publish('$TopicA/B', 'dollar');
    await tb.broker.publish('csm/B', 'plain');
    await waitFor(() => got.filter((m) => m.topic === 'csm/B').length >= 1 && got.some((m) => m.topic === '$TopicA/B'), 5000, 'both messages');
    await sleep(100);
    // '$TopicA/B' arrives once, through '$TopicA/+' only; 'csm/B' through '+/+' and '#'.
    expect(got.filter((m) => m.topic === '$TopicA/B')).toHaveLength(1);
  });

  it('stops delivery after UNSUBSCRIBE', async () => {
    const sub = await client('c-unsub');
    const got = collect(sub);
    await sub.subscribeAsync('csm/unsub/#', { qos: 1 });
    const pub = await client('c-unsub-pub');
    await pub.publishAsync('csm/unsub/a', 'before', { qos: 1 });
    await waitFor(() => got.length === 1, 5000, 'the first message');
    await sub.unsubscribeAsync('csm/unsub/#');
    await pub.publishAsync('csm/unsub/a', 'after', { qos: 1 });
    await sleep(200);
    expect(got.map((m) => m.payload)).toEqual(['before']);
  });

  it('refuses an empty client id with clean session off, accepts it with clean session on [MQTT-3.1.3-8]', async () => {
    // mqtt-packet will not generate this CONNECT, so clear the clean-session bit by hand.
    const bytes = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 30, username: SERVICE.username, password: Buffer.from(SERVICE.password) });
    const flags = 2 + 6 + 1; // fixed header (2), protocol name (6), level (1)
    expect(bytes[flags]! & 0x02).toBe(0x02);
    bytes[flags]! &= ~0x02;
    const r = track(await RawClient.connect(tb.ports.mqtt));
    r.send(bytes);
    const connack = await r.next('connack');
    expect(connack && 'returnCode' in connack ? connack.returnCode : undefined).toBe(2); // identifier rejected
    expect(await r.closesWithin(2000)).toBe(true);
    const accepted = await raw({ clientId: '', clean: true });
    expect(accepted.returnCode).toBe(0);
  });

  it('closes a connection sending a packet over maxPacketSize and keeps serving others', async () => {
    const sub = await client('c-big-sub');
    const got = collect(sub);
    await sub.subscribeAsync('csm/big/#', { qos: 1 });
    const { raw: big } = await raw({ clientId: 'c-big' });
    big.send({ cmd: 'publish', topic: 'csm/big/x', payload: Buffer.alloc(MAX_PACKET, 1), qos: 0, retain: false, dup: false });
    expect(await big.closesWithin(2000)).toBe(true);
    const pub = await client('c-big-ok');
    await pub.publishAsync('csm/big/x', Buffer.alloc(MAX_PACKET - 100, 2), { qos: 1 });
    await waitFor(() => got.length === 1, 5000, 'the message under the limit');
    expect(got[0]!.payload.length).toBe(MAX_PACKET - 100);
    const refused = (await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === 'packet_too_large');
    expect(refused?.value).toBeGreaterThanOrEqual(1);
  });

  it('closes a connection whose PUBLISH topic is not valid UTF-8 [MQTT-1.5.3-1]', async () => {
    const sub = await client('c-utf8-sub');
    const got = collect(sub);
    await sub.subscribeAsync('#', { qos: 0 });
    const { raw: r } = await raw({ clientId: 'c-utf8' });
    const topic = Buffer.from([0x63, 0x73, 0x6d, 0x2f, 0xc3, 0x28]); // "csm/" + an invalid 2-byte sequence
    const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from('x')]);
    r.send(Buffer.concat([Buffer.from([0x30, body.length]), body]));
    expect(await r.closesWithin(2000)).toBe(true);
    await sleep(100);
    expect(got.filter((m) => m.topic.startsWith('csm/'))).toEqual([]);
  });

  it('closes a connection publishing to a topic with a wildcard', async () => {
    const sub = await client('c-wild-sub');
    const got = collect(sub);
    await sub.subscribeAsync('csm/#', { qos: 0 });
    for (const topic of ['csm/+/x', 'csm/#']) {
      const { raw: r } = await raw({ clientId: 'c-wild' });
      r.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      expect(await r.closesWithin(2000), topic).toBe(true);
    }
    await sleep(100);
    expect(got).toEqual([]);
  });

  it('drops a connection whose first packet is not CONNECT', async () => {
    const r = track(await RawClient.connect(tb.ports.mqtt));
    r.send({ cmd: 'publish', topic: 'csm/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    expect(await r.closesWithin(2000)).toBe(true);
    expect(r.packets).toEqual([]);
  });
});

describe('connection limit', () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ mqtt: { maxConnections: 3 } });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it('refuses sockets beyond maxConnections and admits again when one closes', async () => {
    const conns: RawClient[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const { raw, returnCode } = await rawConnect(tb.ports.mqtt, { clientId: `lim-${i}`, ...SERVICE });
        conns.push(raw);
        expect(returnCode).toBe(0);
      }
      const extra = await RawClient.connect(tb.ports.mqtt);
      conns.push(extra);
      extra.sendConnect({ clientId: 'lim-x', ...SERVICE });
      expect(await extra.closesWithin(2000)).toBe(true);
      expect(extra.packets).toEqual([]); // no CONNACK: refused at the socket
      expect(tb.broker.connectedClients()).toBe(3);
      const refused = (await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === 'max_connections');
      expect(refused?.value).toBe(1);
      // The limit spans listeners: the WebSocket listener refuses too.
      const ws = await connectClient(tb.wsUrl, { ...SERVICE, clientId: 'lim-ws', connectTimeout: 2000 }).then(
        (c) => c,
        (e: unknown) => e,
      );
      expect(ws).toBeInstanceOf(Error);
      conns[0]!.destroy();
      await conns[0]!.closed;
      await waitFor(() => tb.broker.connectedClients() === 2, 2000, 'a slot to free');
      const { raw, returnCode } = await rawConnect(tb.ports.mqtt, { clientId: 'lim-again', ...SERVICE });
      conns.push(raw);
      expect(returnCode).toBe(0);
    } finally {
      for (const c of conns) c.destroy();
    }
  });
});
