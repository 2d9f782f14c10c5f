/**
 * Scenario: the ten cases of the Eclipse Paho MQTT 3.1.1 interoperability suite
 * (interoperability/client_test.py: basic, retained messages, will message, zero-length client id,
 * offline queueing, overlapping subscriptions, keepalive, redelivery on reconnect, subscribe
 * failure, `$` topics), re-told in Steward's terms: a registered device publishes its readings, the
 * `ingest` service account reads them, a technician subscribes where it may not. Real broker, real
 * sockets; mqtt-packet raw clients where the exact packets matter, mqtt.js otherwise. Absence is
 * asserted with a sentinel message sent after, never with a sleep.
 *
 * The real suite, run against `steward broker`, is in docs/interop.md.
 */
import type { MqttClient } from 'mqtt';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, SERVICE, addDevice, asPublish, clientTracker, collect, connectClient, rawConnect, startTestBroker, waitFor, type TestBroker } from './fixtures/broker-setup.ts';


describe('MQTT interoperability (the ten Paho 3.1.1 cases)', () => {
  let tb: TestBroker;
  const { track, closeAll } = clientTracker();
  /** The device `demo.well-1` (water), with its own client id. */
  let DEVICE: Awaited<ReturnType<typeof addDevice>>;
  const DATA = 'csm/v1/demo/water/well-1/data';
  const STATUS = 'csm/v1/demo/water/well-1/status';
  const device = async (extra: Record<string, unknown> = {}): Promise<MqttClient> => track(await connectClient(tb.url, { ...DEVICE, ...extra }));
  const service = async (clientId: string, extra: Record<string, unknown> = {}): Promise<MqttClient> => track(await connectClient(tb.url, { ...SERVICE, clientId, ...extra }));
  const raw = async (fields: Parameters<RawClient['sendConnect']>[0]): Promise<{ raw: RawClient; returnCode: number | undefined }> => {
    const r = await rawConnect(tb.ports.mqtt, fields);
    track(r.raw);
    return r;
  };
  /** Publishes a sentinel on `topic` from the service account and waits until `got` has it. */
  const sentinel = async (got: Array<{ payload: string }>, topic: string): Promise<void> => {
    const s = await service(`sentinel-${Math.random().toString(36).slice(2, 8)}`);
    const mark = `sentinel-${Date.now()}`;
    await s.publishAsync(topic, mark, { qos: 1 });
    await waitFor(() => got.some((m) => m.payload === mark), 5000, 'the sentinel');
  };

  beforeAll(async () => {
    tb = await startTestBroker();
    DEVICE = await addDevice(tb.registry, 'demo', 'water', 'well-1');
    await tb.registry.addAccount({ name: 'tech', role: 'technician', hub: 'demo', password: 'technician-pw-1' });
  });
  afterEach(closeAll);
  afterAll(async () => {
    await tb?.stop();
  });

  it('basic: a device reading at QoS 0, 1 and 2 reaches a subscriber; a second CONNECT or a wrong protocol name ends the connection', async () => {
    const sub = await service('interop-basic');
    const got = collect(sub);
    await sub.subscribeAsync(DATA, { qos: 2 });
    const dev = await device();
    for (const qos of [0, 1, 2] as const) await dev.publishAsync(DATA, `qos ${qos}`, { qos });
    await waitFor(() => got.length === 3, 5000, 'three readings');
    expect(got.map((m) => [m.payload, m.qos])).toEqual([['qos 0', 0], ['qos 1', 1], ['qos 2', 2]]);

    const { raw: twice, returnCode } = await raw({ clientId: 'interop-twice', ...SERVICE });
    expect(returnCode).toBe(0);
    twice.sendConnect({ clientId: 'interop-twice', ...SERVICE });
    expect(await twice.closesWithin(2000)).toBe(true);

    const wrong = track(await RawClient.connect(tb.ports.mqtt));
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'interop-hj', clean: true, keepalive: 30, ...SERVICE, password: Buffer.from(SERVICE.password) });
    connect.write('hj\u0000\u0000', 4, 'latin1'); // protocol name "hj\0\0" instead of "MQTT", same length
    wrong.send(connect);
    const ack = await wrong.next('connack', 2000).catch(() => undefined);
    expect(ack === undefined || ('returnCode' in ack && ack.returnCode !== 0)).toBe(true);
    expect(await wrong.closesWithin(2000)).toBe(true);
  });

  it('retained messages: kept at QoS 0, 1 and 2 for new subscribers, with the retain flag, and cleared by an empty payload', async () => {
    const alerts = ['csm/v1/demo/alerts/a/q0', 'csm/v1/demo/alerts/a/q1', 'csm/v1/demo/alerts/a/q2'];
    const pub = await service('interop-retain-pub');
    for (const [qos, topic] of alerts.entries()) await pub.publishAsync(topic, `retained ${qos}`, { qos: qos as 0 | 1 | 2, retain: true });
    const s1 = await service('interop-retain-1');
    const got1 = collect(s1);
    await s1.subscribeAsync('csm/v1/demo/alerts/a/+', { qos: 2 });
    await waitFor(() => got1.length === 3, 5000, 'three retained messages');
    expect(got1.map((m) => [m.topic, m.payload, m.retain]).sort()).toEqual(alerts.map((t, q) => [t, `retained ${q}`, true]));

    for (const [qos, topic] of alerts.entries()) await pub.publishAsync(topic, '', { qos: qos as 0 | 1 | 2, retain: true });
    const s2 = await service('interop-retain-2');
    const got2 = collect(s2);
    await s2.subscribeAsync('csm/v1/demo/alerts/a/+', { qos: 2 });
    await sentinel(got2, 'csm/v1/demo/alerts/a/sentinel');
    expect(got2.filter((m) => m.retain)).toEqual([]);
  });

  /** A service subscriber on the device's status topic, then the device connected raw with a will. */
  const deviceWithWill = async (subscriber: string, keepalive: number, will: string): Promise<{ dev: RawClient; got: ReturnType<typeof collect> }> => {
    const sub = await service(subscriber);
    const got = collect(sub);
    await sub.subscribeAsync(STATUS, { qos: 2 });
    const { raw: dev, returnCode } = await raw({ ...DEVICE, keepalive, will: { topic: STATUS, payload: Buffer.from(will), qos: 1, retain: false } });
    expect(returnCode).toBe(0);
    return { dev, got };
  };

  it('will message: a device that vanishes without DISCONNECT has its will published', async () => {
    const { dev, got } = await deviceWithWill('interop-will-sub', 2, 'client not disconnected');
    dev.destroy();
    const will = await waitFor(() => got.find((m) => m.payload === 'client not disconnected'), 5000, 'the will');
    expect(will.topic).toBe(STATUS);
  });

  it('zero-length client id: accepted with clean session, refused (identifier rejected) without', async () => {
    const clean = await raw({ clientId: '', clean: true, ...SERVICE });
    expect(clean.returnCode).toBe(0);
    const bytes = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 30, ...SERVICE, password: Buffer.from(SERVICE.password) });
    bytes[2 + 6 + 1]! &= ~0x02; // clear the clean-session flag (mqtt-packet refuses to generate it)
    const persistent = track(await RawClient.connect(tb.ports.mqtt));
    persistent.send(bytes);
    const ack = await persistent.next('connack');
    expect(ack && 'returnCode' in ack ? ack.returnCode : undefined).toBe(2);
  });

  it('offline queueing: readings at QoS 1 and 2 published while a persistent subscriber is away reach it when it returns', async () => {
    const s = await service('interop-offline', { clean: false });
    await s.subscribeAsync(DATA, { qos: 2 });
    await s.endAsync();
    const dev = await device();
    for (const qos of [0, 1, 2] as const) await dev.publishAsync(DATA, `offline ${qos}`, { qos });
    const back = await service('interop-offline', { clean: false });
    const got = collect(back);
    await sentinel(got, DATA);
    const queued = got.filter((m) => m.payload.startsWith('offline')).map((m) => m.payload);
    // QoS 0 may be dropped while offline [MQTT-3.1.2-5]; QoS 1 and 2 must be kept.
    expect(queued.filter((p) => p !== 'offline 0')).toEqual(['offline 1', 'offline 2']);
    await back.endAsync();
    await (await service('interop-offline', { clean: true })).endAsync(); // clear the session
  });

  it('overlapping subscriptions: a reading matching two filters arrives once at the higher QoS, or once per filter', async () => {
    const sub = await service('interop-overlap');
    const got = collect(sub);
    await sub.subscribeAsync({ 'csm/v1/demo/#': { qos: 2 }, 'csm/v1/demo/water/+/data': { qos: 1 } });
    const dev = await device();
    await dev.publishAsync(DATA, 'overlapping topic filters', { qos: 2 });
    await sentinel(got, 'csm/v1/demo/water/well-1/data');
    const copies = got.filter((m) => m.payload === 'overlapping topic filters').map((m) => m.qos).sort();
    expect([[2], [1, 2]]).toContainEqual(copies);
  });

  it('keepalive: a client that stops talking is dropped after 1.5 × its keepalive and its will goes out', async () => {
    const { dev, got } = await deviceWithWill('interop-ka-sub', 1, 'keepalive expiry');
    const t0 = Date.now();
    await waitFor(() => got.find((m) => m.payload === 'keepalive expiry'), 5000, 'the will');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(await dev.closesWithin(2000)).toBe(true);
  });

  it('redelivery on reconnect: QoS 1 and 2 readings not acknowledged before the link dropped are sent again', async () => {
    const first = await raw({ clientId: 'interop-redeliver', clean: false, ...SERVICE });
    first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: DATA, qos: 2 }] });
    await first.raw.next('suback');
    const dev = await device();
    await dev.publishAsync(DATA, 'r1', { qos: 1 });
    await dev.publishAsync(DATA, 'r2', { qos: 2 });
    const seen = [asPublish(await first.raw.next('publish')), asPublish(await first.raw.next('publish'))];
    first.raw.destroy(); // no PUBACK, no PUBREC
    await first.raw.closed;
    const again = await waitFor(async () => {
      const r = await raw({ clientId: 'interop-redeliver', clean: false, ...SERVICE });
      return r.returnCode === 0 ? r : undefined;
    });
    const re = [asPublish(await again.raw.next('publish')), asPublish(await again.raw.next('publish'))];
    // The same messages with the same packet identifiers.
    const key = (ps: IPublishPacket[]): string[] => ps.map((p) => `${p.payload.toString()}/${p.qos}/${p.messageId}`).sort();
    expect(key(re)).toEqual(key(seen));
    expect(re.map((p) => `${p.payload.toString()}/${p.qos}`).sort()).toEqual(['r1/1', 'r2/2']);
    again.raw.send({ cmd: 'disconnect' });
    await (await service('interop-redeliver', { clean: true })).endAsync();
  });

  it('subscribe failure: a filter outside what the account may read gets SUBACK 0x80, the others are granted, the connection stays', async () => {
    const { raw: r } = await raw({ clientId: 'interop-tech', username: 'tech', password: 'technician-pw-1' });
    r.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'csm/v1/demo/water/well-1/data', qos: 2 }, { topic: 'csm/v1/demo/alerts/#', qos: 2 }] });
    const suback = await r.next('suback');
    expect(suback && 'granted' in suback ? suback.granted : undefined).toEqual([0x80, 2]);
    r.send({ cmd: 'pingreq' });
    expect(await r.next('pingresp')).toBeDefined();
  });

  it('$ topics: a QoS 1 publish to a $-topic is acknowledged and dropped, a leading wildcard never matches it, the connection stays', async () => {
    const sub = await service('interop-dollar-sub');
    const got = collect(sub);
    await sub.subscribeAsync('+/+', { qos: 2 });
    const { raw: r } = await raw({ clientId: 'interop-dollar', ...SERVICE });
    r.send({ cmd: 'publish', topic: '$csm/B', payload: Buffer.from('dollar'), qos: 1, messageId: 3, retain: false, dup: false });
    const puback = await r.next('puback', 2000);
    expect(puback && 'messageId' in puback ? puback.messageId : undefined).toBe(3);
    await sentinel(got, 'csm/B');
    expect(got.filter((m) => m.topic.startsWith('$'))).toEqual([]);
    expect(r.isClosed).toBe(false);
  });

  it('a refused publish (a device writing to another sensor) is acknowledged, counted and dropped, and the device stays connected', async () => {
    const refusedBefore = (await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === 'publish_denied')?.value ?? 0;
    const { raw: r } = await raw({ ...DEVICE });
    r.send({ cmd: 'publish', topic: 'csm/v1/demo/water/well-2/data', payload: Buffer.from('{}'), qos: 1, messageId: 9, retain: false, dup: false });
    const puback = await r.next('puback', 2000);
    expect(puback && 'messageId' in puback ? puback.messageId : undefined).toBe(9);
    expect((await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === 'publish_denied')?.value).toBe(refusedBefore + 1);
    r.send({ cmd: 'pingreq' });
    expect(await r.next('pingresp')).toBeDefined();
  });
});
