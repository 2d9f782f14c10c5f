/**
 * Scenario: the hub's broker (Aedes with our registry and ACL) on real sockets. Devices publish only
 * their own readings, service accounts read the raw tier, other roles and anonymous readers see only
 * what docs/contract.md allows; registrations take effect without a restart; a foreign client
 * (mosquitto_pub/mosquitto_sub) works through it; device status is kept retained by the broker.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/services.ts';
import { DEVICE_PASSWORD, SERVICE, addDevice, clientTracker, collect, connectClient, rawConnect, sleep, startTestBroker, waitFor, type TestBroker } from './fixtures/broker-setup.ts';

const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_NOT_AUTHORIZED = 5;

describe('broker ACL and authentication', () => {
  let tb: TestBroker;
  const { track, closeAll } = clientTracker();

  beforeAll(async () => {
    tb = await startTestBroker();
    await addDevice(tb.registry, 'north', 'water', 'well-1');
    await addDevice(tb.registry, 'north', 'water', 'well-2');
    await tb.registry.addAccount({ name: 'tech', role: 'technician', password: 'technician-pw-1' });
    await tb.registry.addAccount({ name: 'warden', role: 'steward', password: 'steward-pw-1' });
    await tb.registry.addAccount({ name: 'north-hub', role: 'hub', hub: 'north', password: 'hub-password-1' });
  });

  afterEach(closeAll);

  afterAll(async () => {
    await tb?.stop();
  });

  const service = (clientId: string): Promise<MqttClient> => connectClient(tb.url, { ...SERVICE, clientId }).then(track);
  const device = (sensor: string, extra: Record<string, unknown> = {}): Promise<MqttClient> =>
    connectClient(tb.url, { username: `north.${sensor}`, password: DEVICE_PASSWORD, clientId: `north.${sensor}`, ...extra }).then(track);

  it('delivers a device reading on its own data topic to a service subscriber', async () => {
    const sub = await service('svc-1');
    const got = collect(sub);
    await sub.subscribeAsync('csm/v1/+/+/+/data', { qos: 1 });
    const dev = await device('well-1');
    await dev.publishAsync('csm/v1/north/water/well-1/data', '{"seq":1}', { qos: 1 });
    await waitFor(() => got.find((m) => m.topic === 'csm/v1/north/water/well-1/data'), 5000, 'the reading');
    expect(got.find((m) => m.topic.endsWith('/data'))?.payload).toBe('{"seq":1}');
  });

  it("acknowledges and drops a device's publish to another sensor's topic, keeping its connection (MQTT 3.1.1, as Mosquitto)", async () => {
    const sub = await service('svc-2');
    const got = collect(sub);
    await sub.subscribeAsync('csm/#', { qos: 1 });
    const dev = await device('well-1');
    await dev.publishAsync('csm/v1/north/water/well-2/data', '{"forged":true}', { qos: 1 });
    await dev.publishAsync('csm/v1/north/energy/well-1/data', '{"forged":true}', { qos: 1 });
    expect(dev.connected).toBe(true);
    // A legitimate reading from the real well-2 arrives; the forged one never does.
    const other = await device('well-2');
    await other.publishAsync('csm/v1/north/water/well-2/data', '{"real":true}', { qos: 1 });
    await waitFor(() => got.find((m) => m.payload === '{"real":true}'), 5000, 'the real reading');
    await sleep(200);
    expect(got.filter((m) => m.payload.includes('forged'))).toEqual([]);
    expect((await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === 'publish_denied')?.value).toBeGreaterThanOrEqual(1);
  });

  it('refuses every subscription of a device with SUBACK 0x80', async () => {
    const dev = await device('well-1');
    const granted = await dev.subscribeAsync(['csm/#', 'csm/v1/north/water/well-1/data', '#'], { qos: 1 }).catch((e: unknown) => e);
    // mqtt.js reports the refusal either as grants of 128 or as an error; both mean refused.
    if (Array.isArray(granted)) expect(granted.map((g) => g.qos)).toEqual([128, 128, 128]);
    else expect(granted).toBeInstanceOf(Error);
    const { raw } = await rawConnect(tb.ports.mqtt, { clientId: 'north.well-1', username: 'north.well-1', password: DEVICE_PASSWORD });
    track(raw);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'csm/#', qos: 1 }] });
    const suback = await raw.next('suback');
    expect(suback && 'granted' in suback ? suback.granted : undefined).toEqual([128]);
    expect(raw.isClosed).toBe(false); // refused subscriptions do not close the connection
  });

  it('refuses a wrong password and an unregistered username with CONNACK "not authorized"', async () => {
    const wrong = await rawConnect(tb.ports.mqtt, { clientId: 'north.well-1', username: 'north.well-1', password: 'not-the-password' });
    track(wrong.raw);
    expect(wrong.returnCode).toBe(CONNACK_NOT_AUTHORIZED);
    expect(await wrong.raw.closesWithin(2000)).toBe(true);
    const unknown = await rawConnect(tb.ports.mqtt, { clientId: 'north.ghost', username: 'north.ghost', password: DEVICE_PASSWORD });
    track(unknown.raw);
    expect(unknown.returnCode).toBe(CONNACK_NOT_AUTHORIZED);
    const noPassword = await rawConnect(tb.ports.mqtt, { clientId: 'svc-x', username: SERVICE.username });
    track(noPassword.raw);
    expect(noPassword.returnCode).toBe(CONNACK_NOT_AUTHORIZED);
  });

  it('refuses anonymous clients when anonymous access is off', async () => {
    const anon = await rawConnect(tb.ports.mqtt, { clientId: 'reader' });
    track(anon.raw);
    expect(anon.returnCode).toBe(CONNACK_NOT_AUTHORIZED);
  });

  it('lets a sensor registered while the broker runs connect at once, and refuses it once removed', async () => {
    const creds = await addDevice(tb.registry, 'north', 'energy', 'pv-9');
    const sub = await service('svc-3');
    const got = collect(sub);
    await sub.subscribeAsync('csm/v1/north/energy/+/data', { qos: 1 });
    const dev = track(await connectClient(tb.url, creds));
    await dev.publishAsync('csm/v1/north/energy/pv-9/data', '{"seq":1}', { qos: 1 });
    await waitFor(() => got.length === 1, 5000, 'the new sensor reading');

    expect(tb.registry.removeSensor('north', 'pv-9')).toBe(true);
    // Still connected: its next publish is refused (acknowledged and dropped).
    await dev.publishAsync('csm/v1/north/energy/pv-9/data', '{"seq":2}', { qos: 1 });
    const again = await rawConnect(tb.ports.mqtt, { clientId: creds.clientId, username: creds.username, password: creds.password });
    track(again.raw);
    expect(again.returnCode).toBe(CONNACK_NOT_AUTHORIZED);
    await sleep(100);
    expect(got.map((m) => m.payload)).toEqual(['{"seq":1}']);
  });

  it('refuses client ids with +, # or / (CVE-2017-7650) and ids not bound to the user', async () => {
    for (const clientId of ['+', '#', 'a/b', 'north/well-1', 'north.+']) {
      const r = await rawConnect(tb.ports.mqtt, { clientId, ...SERVICE });
      track(r.raw);
      expect(r.returnCode, clientId).toBe(CONNACK_IDENTIFIER_REJECTED);
    }
    // A device must use its username as client id: well-1 cannot take well-2's session.
    const kick = await rawConnect(tb.ports.mqtt, { clientId: 'north.well-2', username: 'north.well-1', password: DEVICE_PASSWORD });
    track(kick.raw);
    expect(kick.returnCode).toBe(CONNACK_IDENTIFIER_REJECTED);
    // Dotted client ids belong to devices; accounts cannot squat them.
    const squat = await rawConnect(tb.ports.mqtt, { clientId: 'north.well-2', ...SERVICE });
    track(squat.raw);
    expect(squat.returnCode).toBe(CONNACK_IDENTIFIER_REJECTED);
  });

  it("does not let another account take over a service account's persistent session", async () => {
    const ingest = await connectClient(tb.url, { ...SERVICE, clientId: 'steward-ingest-test', clean: false });
    await ingest.subscribeAsync('csm/v1/+/+/+/data', { qos: 1 });
    await ingest.endAsync();
    const thief = await rawConnect(tb.ports.mqtt, { clientId: 'steward-ingest-test', username: 'tech', password: 'technician-pw-1', clean: false });
    track(thief.raw);
    expect(thief.returnCode).toBe(CONNACK_IDENTIFIER_REJECTED);
    const back = track(await connectClient(tb.url, { ...SERVICE, clientId: 'steward-ingest-test', clean: false }));
    expect(back.connected).toBe(true);
  });

  it('gives each role only its topics', async () => {
    const cases: Array<{ who: { username: string; password: string }; ok: string[]; refused: string[] }> = [
      { who: { username: 'tech', password: 'technician-pw-1' }, ok: ['csm/v1/+/rejected', 'csm/v1/north/alerts/#', 'public/#'], refused: ['csm/v1/+/+/+/data', 'csm/#', '#', '+/v1/north/rejected'] },
      { who: { username: 'warden', password: 'steward-pw-1' }, ok: ['csm/v1/+/alerts/#', 'csm/v1/+/+/+/status'], refused: ['csm/v1/+/+/+/data', 'csm/v1/+/rejected'] },
      { who: { username: 'north-hub', password: 'hub-password-1' }, ok: ['csm/v1/north/alerts/#', 'public/#'], refused: ['csm/v1/south/alerts/#', 'csm/v1/+/alerts/#', 'csm/v1/north/rejected'] },
    ];
    for (const c of cases) {
      const { raw, returnCode } = await rawConnect(tb.ports.mqtt, { clientId: `${c.who.username}-1`, ...c.who });
      track(raw);
      expect(returnCode).toBe(0);
      raw.send({ cmd: 'subscribe', messageId: 9, subscriptions: [...c.ok, ...c.refused].map((topic) => ({ topic, qos: 1 as const })) });
      const suback = await raw.next('suback');
      expect(suback && 'granted' in suback ? suback.granted : undefined, c.who.username).toEqual([...c.ok.map(() => 1), ...c.refused.map(() => 128)]);
      // No role but service publishes: the publish is acknowledged and dropped (MQTT 3.1.1 has no
      // negative PUBACK), the connection kept, and nothing is delivered.
      raw.send({ cmd: 'publish', topic: 'public/v1/north/x', payload: Buffer.from('x'), qos: 1, messageId: 21, retain: false, dup: false });
      const ack = await raw.next('puback');
      expect(ack && 'messageId' in ack ? ack.messageId : undefined, `${c.who.username} publish acknowledged`).toBe(21);
      raw.send({ cmd: 'pingreq' });
      expect(await raw.next('pingresp'), `${c.who.username} stays connected`).toBeDefined();
      // A sentinel on the same topic, sent after: had the dropped publish gone out, it would be first.
      const sentinel = `sentinel-${c.who.username}`;
      if (c.ok.includes('public/#')) {
        await tb.broker.publish('public/v1/north/x', sentinel, { qos: 1 });
        await waitFor(() => raw.packets.some((p) => p.cmd === 'publish' && p.payload.toString() === sentinel), 5000, `${c.who.username} sentinel`);
      }
      expect(raw.packets.filter((p) => p.cmd === 'publish' && p.topic === 'public/v1/north/x' && p.payload.toString() !== sentinel), `${c.who.username} receives no dropped publish`).toEqual([]);
    }
  });

  it('publishes and subscribes through a foreign client (mosquitto_pub / mosquitto_sub)', async () => {
    await addDevice(tb.registry, 'north', 'soil', 'probe-3');
    const subscribed = new Promise<void>((resolve) => {
      const onSub = (_subs: unknown, client: { id: string }): void => {
        if (client.id === 'cli-sub') {
          tb.broker.aedes.off('subscribe', onSub);
          resolve();
        }
      };
      tb.broker.aedes.on('subscribe', onSub);
    });
    const sub = runCli('mosquitto_sub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(tb.ports.mqtt), '-u', SERVICE.username, '-P', SERVICE.password, '-i', 'cli-sub', '-q', '1', '-t', 'csm/v1/north/soil/+/data', '-C', '1', '-W', '15', '-v'], { timeoutMs: 20_000 });
    await subscribed;
    const pub = await runCli('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(tb.ports.mqtt), '-u', 'north.probe-3', '-P', DEVICE_PASSWORD, '-i', 'north.probe-3', '-q', '1', '-t', 'csm/v1/north/soil/probe-3/data', '-m', '{"soc":1}']);
    expect(pub.code, pub.stderr).toBe(0);
    const out = await sub;
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trim()).toBe('csm/v1/north/soil/probe-3/data {"soc":1}');
    // And mosquitto_pub with a wrong password is refused.
    const bad = await runCli('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(tb.ports.mqtt), '-u', 'north.probe-3', '-P', 'wrong-password', '-i', 'north.probe-3', '-t', 'csm/v1/north/soil/probe-3/data', '-m', 'x']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.toLowerCase()).toContain('not authori');
  });

  it('keeps the device status retained: online on connect, offline when the socket dies', async () => {
    const sub = await service('svc-status');
    const got = collect(sub);
    await addDevice(tb.registry, 'north', 'water', 'well-5'); // never connected: no status yet
    await sub.subscribeAsync('csm/v1/north/water/well-5/status', { qos: 1 });
    const dev = await device('well-5');
    const online = await waitFor(() => got.find((m) => m.payload.includes('online')), 5000, 'online status');
    expect(got.map((m) => JSON.parse(m.payload).state)).toEqual(['online']);
    expect(JSON.parse(online.payload)).toMatchObject({ state: 'online', ts: expect.any(Number) });
    dev.stream.destroy(); // abrupt: no DISCONNECT, no will set
    const offline = await waitFor(() => got.find((m) => m.payload.includes('offline')), 5000, 'offline status');
    expect(JSON.parse(offline.payload).ts).toBeGreaterThanOrEqual(JSON.parse(online.payload).ts);
    // A late subscriber sees the retained offline status.
    const late = await service('svc-late');
    const lateGot = collect(late);
    await late.subscribeAsync('csm/v1/+/+/+/status', { qos: 1 });
    const retained = await waitFor(() => lateGot.find((m) => m.topic === 'csm/v1/north/water/well-5/status'), 5000, 'retained status');
    expect(retained.retain).toBe(true);
    expect(JSON.parse(retained.payload).state).toBe('offline');
  });

  it('lets a device set its own will on its status topic', async () => {
    const sub = await service('svc-will');
    const got = collect(sub);
    await sub.subscribeAsync('csm/v1/north/water/well-1/status', { qos: 1 });
    const dev = await device('well-1', { will: { topic: 'csm/v1/north/water/well-1/status', payload: Buffer.from('{"state":"offline","by":"will"}'), qos: 1, retain: true } });
    await waitFor(() => got.find((m) => m.payload.includes('online')), 5000, 'online');
    dev.stream.destroy();
    await waitFor(() => got.find((m) => m.payload.includes('"by":"will"')), 5000, 'the will');
  });

  it('serves MQTT over WebSocket', async () => {
    const sub = track(await connectClient(tb.wsUrl, { ...SERVICE, clientId: 'svc-ws' }));
    const got = collect(sub);
    await sub.subscribeAsync('csm/v1/north/water/+/data', { qos: 1 });
    const dev = track(await connectClient(tb.wsUrl, { username: 'north.well-1', password: DEVICE_PASSWORD, clientId: 'north.well-1' }));
    await dev.publishAsync('csm/v1/north/water/well-1/data', '{"via":"ws"}', { qos: 1 });
    await waitFor(() => got.find((m) => m.payload === '{"via":"ws"}'), 5000, 'the reading over ws');
    // The WebSocket listener enforces the ACL too: acknowledged, dropped, never delivered.
    await dev.publishAsync('csm/v1/north/water/well-2/data', 'forged', { qos: 1 });
    await dev.publishAsync('csm/v1/north/water/well-1/data', '{"via":"ws","after":"forged"}', { qos: 1 });
    await waitFor(() => got.find((m) => m.payload.includes('after')), 5000, 'the reading after the forged one');
    expect(got.filter((m) => m.payload === 'forged')).toEqual([]);
    const res = await fetch(`http://127.0.0.1:${tb.ports.ws}/`);
    expect(res.status).toBe(426);
  });
});

describe('broker with anonymous public access', () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ mqtt: { allowAnonymousPublic: true } });
    await addDevice(tb.registry, 'north', 'water', 'well-1');
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it('lets anonymous readers subscribe under public/ only and never forwards them raw data', async () => {
    const { raw, returnCode } = await rawConnect(tb.ports.mqtt, { clientId: '' });
    expect(returnCode).toBe(0);
    try {
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'public/#', qos: 1 }, { topic: 'csm/#', qos: 1 }, { topic: '#', qos: 0 }, { topic: '+/v1/north/water/well-1/data', qos: 0 }] });
      const suback = await raw.next('suback');
      expect(suback && 'granted' in suback ? suback.granted : undefined).toEqual([1, 128, 128, 128]);
      const dev = await connectClient(tb.url, { username: 'north.well-1', password: DEVICE_PASSWORD, clientId: 'north.well-1' });
      await dev.publishAsync('csm/v1/north/water/well-1/data', 'raw', { qos: 1 });
      await dev.endAsync();
      await tb.broker.publish('public/v1/north/water', 'filtered', { qos: 1 });
      // The filtered message, sent after the raw reading, is the first to arrive: the raw one never will.
      const msg = await raw.next('publish');
      expect(msg && 'topic' in msg ? msg.topic : undefined).toBe('public/v1/north/water');
      expect(raw.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
      // Anonymous readers publish nothing: acknowledged and dropped, never delivered (not even to
      // itself): a sentinel sent after it is the next message to arrive.
      raw.send({ cmd: 'publish', topic: 'public/v1/north/water', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false });
      expect(await raw.next('puback')).toBeTruthy();
      await tb.broker.publish('public/v1/north/water', 'sentinel', { qos: 1 });
      const next = await raw.next('publish');
      expect(next && 'payload' in next ? next.payload.toString() : undefined).toBe('sentinel');
      expect(raw.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
    } finally {
      raw.destroy();
    }
  });

  it('still refuses anonymous clients that claim a device client id or a persistent session', async () => {
    const squat = await rawConnect(tb.ports.mqtt, { clientId: 'north.well-1' });
    squat.raw.destroy();
    expect(squat.returnCode).toBe(CONNACK_IDENTIFIER_REJECTED);
    const persistent = await rawConnect(tb.ports.mqtt, { clientId: 'reader-1', clean: false });
    persistent.raw.destroy();
    expect(persistent.returnCode).toBe(CONNACK_NOT_AUTHORIZED);
  });
});
