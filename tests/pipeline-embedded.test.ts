/**
 * Scenario: a hub runs broker + ingest + the embedded store (nothing else installed); devices of all
 * four domains publish over real sockets, some of them badly. Every good reading is stored exactly
 * once, every bad one is refused with a reason, kept and published to the technicians' topic, and
 * good traffic never stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../broker/broker.ts';
import { refusedToDeadLetter } from '../broker/deadletter.ts';
import { parseConfig, type Config } from '../core/config.ts';
import type { Domain } from '../core/ids.ts';
import { createIngest, type Ingest } from '../ingest/ingest.ts';
import { createDefaultFilter } from '../privacy/index.ts';
import { Registry } from '../registry/registry.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createStore } from '../storage/index.ts';
import type { ReadingStore } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { connectAccount, connectDevice, eventually, validPayload, type TestDevice } from './harness/devices.ts';

describe('pipeline on the embedded store', () => {
  let dir: string;
  let config: Config;
  let registry: Registry;
  let broker: ReturnType<typeof createBroker>;
  let store: ReadingStore;
  let dead: DeadLetterStore;
  let ingest: Ingest;
  let url: string;
  const metrics = createMetrics();
  const devices: TestDevice[] = [];
  let technician: MqttClient;
  const rejectedSeen: Array<{ code: string; reason: string; sensor?: string }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-e2e-'));
    config = parseConfig({ dataDir: dir, mqtt: { port: 0, wsPort: 0, host: '127.0.0.1', maxPacketSize: 1_000_000 }, ingest: { flushIntervalMs: 50, maxPayloadBytes: 16_384 } });
    registry = Registry.open(dir);
    dead = new DeadLetterStore(dir);
    broker = createBroker({ config: config.mqtt, registry, logger: silentLogger, metrics, onRefusedPublish: refusedToDeadLetter(() => dead) });
    const ports = await broker.start();
    url = `mqtt://127.0.0.1:${ports.mqtt}`;
    store = createStore(config, { logger: silentLogger, metrics });
    await store.start();
    const svc = await registry.addAccount({ name: 'ingest', role: 'service' });
    ingest = createIngest({ config, store, registry, deadLetters: dead, privacy: createDefaultFilter(), metrics, logger: silentLogger, credentials: { username: 'ingest', password: svc.password }, brokerUrl: url });
    await ingest.start();
    const tech = await registry.addAccount({ name: 'tech', role: 'technician' });
    technician = await connectAccount(url, 'tech', tech.password);
    await technician.subscribeAsync('csm/v1/demo/rejected', { qos: 1 });
    technician.on('message', (_t, p) => rejectedSeen.push(JSON.parse(p.toString())));
    const fleet: Array<[Domain, string]> = [
      ['water', 'well-1'],
      ['soil', 'soil-1'],
      ['energy', 'pv-1'],
      ['biodiversity', 'am-1'],
    ];
    for (const [domain, sensor] of fleet) devices.push(await connectDevice(registry, url, 'demo', domain, sensor));
  });

  afterAll(async () => {
    await technician?.endAsync();
    for (const d of devices) await d.end().catch(() => {});
    await ingest?.stop();
    await broker?.stop();
    await store?.stop();
    dead?.close();
    registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every reading of every domain exactly once, with canonical units', async () => {
    const t0 = Date.now() - 60_000;
    for (const d of devices) {
      for (let i = 0; i < 20; i++) await d.publishRaw(JSON.stringify(validPayload(d.domain, i, t0 + i * 1000)));
    }
    // Redeliver a few readings, as a device would after a lost PUBACK: no duplicates.
    await devices[0]!.publishRaw(JSON.stringify(validPayload('water', 5, t0 + 5000)));
    await eventually(() => ingest.spoolDepth() === 0 && metrics.readingsAccepted.get().then((m) => m.values.reduce((a, v) => a + v.value, 0) >= 81));
    for (const d of devices) {
      const metric = Object.keys((validPayload(d.domain, 0, 0) as { metrics: object }).metrics)[0]!;
      const pts = await store.range({ hub: 'demo', sensor: d.sensor, metric, from: t0 - 1, to: Date.now() + 1 });
      expect(pts.map((p) => p.ts)).toEqual([...Array(20).keys()].map((i) => t0 + i * 1000));
    }
    const latest = await store.latest({ hub: 'demo' });
    expect(new Set(latest.map((l) => l.domain))).toEqual(new Set(['water', 'soil', 'energy', 'biodiversity']));
    expect(latest.find((l) => l.metric === 'groundwater_level')).toMatchObject({ sensor: 'well-1', unit: 'm' });
    expect(latest.find((l) => l.domain === 'biodiversity')).toMatchObject({ species: 'Erithacus rubecula' });
  });

  it('accepts SenML with base fields and registry units, converting to canonical units', async () => {
    const d = devices[2]!; // energy
    const t = Math.floor((Date.now() - 30_000) / 1000);
    await d.publishRaw(JSON.stringify([{ bn: 'urn:dev:demo:pv-1:', bt: t, bu: 'kW', n: 'pv_power', v: 2.5 }, { n: 'battery_energy', u: 'kWh', v: 7.25 }, { n: 'seq', v: 1000 }]));
    const pts = await eventually(async () => {
      const r = await store.range({ hub: 'demo', sensor: 'pv-1', metric: 'battery_energy', from: t * 1000, to: t * 1000 + 1 });
      return r.length ? r : undefined;
    });
    expect(pts).toEqual([{ ts: t * 1000, value: 7250 }]);
  });

  it('refuses bad input with a clear reason, keeps it, tells technicians, and keeps good traffic flowing', async () => {
    const water = devices[0]!;
    const now = Date.now();
    const bad: Array<[string | Buffer, string]> = [
      ['{"ts": 1, "seq":', 'malformed_json'],
      [JSON.stringify({ ts: now, metrics: { groundwater_level: 1 } }), 'schema'],
      [JSON.stringify({ ts: now, seq: 1, metrics: { groundwater_level: 'deep' } }), 'schema'],
      ['{"ts": ' + now + ', "seq": 1, "metrics": {"groundwater_level": 1e999}}', 'non_finite'],
      [JSON.stringify({ ts: now, seq: 1, metrics: { unobtainium: 1 } }), 'unknown_metric'],
      [JSON.stringify({ ts: now, seq: 1, metrics: { discharge: { value: 1, unit: 'kWh' } } }), 'unit'],
      [JSON.stringify({ ts: now + 86_400_000, seq: 1, metrics: { groundwater_level: 1 } }), 'future_timestamp'],
      [Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), 'invalid_utf8'],
      [JSON.stringify({ ts: now, seq: 1, metrics: { groundwater_level: 1 }, attributes: { note: 'x'.repeat(1000) }, pad: 'y'.repeat(20_000) }), 'payload_too_large'],
    ];
    let seq = 100;
    for (const [payload] of bad) {
      await water.publishRaw(payload);
      // Good traffic interleaved with the bad.
      await water.publishRaw(JSON.stringify(validPayload('water', seq, now - 10_000 + seq)));
      seq++;
    }
    await eventually(() => dead.list({ hub: 'demo' }).length >= bad.length);
    const codes = dead.list({ hub: 'demo', limit: 50 }).map((d) => d.code);
    for (const [, code] of bad) expect(codes).toContain(code);
    for (const d of dead.list({ hub: 'demo' })) expect(d.reason.length).toBeGreaterThan(10);
    await eventually(() => rejectedSeen.length >= bad.length);
    expect(rejectedSeen.map((r) => r.code)).toEqual(expect.arrayContaining(bad.map(([, c]) => c)));
    // Every interleaved good reading was stored; nothing from the bad ones.
    const pts = await eventually(async () => {
      const r = await store.range({ hub: 'demo', sensor: 'well-1', metric: 'groundwater_level', from: now - 10_000, to: now + 1 });
      return r.length >= bad.length ? r : undefined;
    });
    expect(pts).toHaveLength(bad.length);
    const rejected = await metrics.readingsRejected.get();
    expect(rejected.values.find((v) => v.labels.code === 'malformed_json')?.value).toBeGreaterThanOrEqual(1);
  });

  it('keeps a publish to another sensor\'s topic as a dead letter; the broker acknowledges and drops it', async () => {
    const intruder = await connectDevice(registry, url, 'demo', 'water', 'well-evil');
    await intruder.client.publishAsync('csm/v1/demo/water/well-1/data', JSON.stringify(validPayload('water', 1, Date.now())), { qos: 1 });
    const d = await eventually(() => dead.list({ code: 'topic_mismatch' }).find((x) => x.topic === 'csm/v1/demo/water/well-1/data'));
    expect(intruder.client.connected).toBe(true);
    intruder.client.end(true);
    expect(d).toMatchObject({ hub: 'demo', sensor: 'well-evil' });
    expect(d.reason).toMatch(/device demo\.well-evil may not publish/);
  });

  it('refuses readings from unregistered sensors and from a domain the sensor is not registered for', async () => {
    // A service account may publish anywhere on the broker; ingest still checks the registry.
    const svc = await registry.addAccount({ name: 'svc2', role: 'service', password: 'svc2-password' });
    const c = await connectAccount(url, 'svc2', svc.password);
    const now = Date.now();
    await c.publishAsync('csm/v1/demo/water/ghost-9/data', JSON.stringify(validPayload('water', 1, now)), { qos: 1 });
    await c.publishAsync('csm/v1/demo/soil/well-1/data', JSON.stringify(validPayload('soil', 1, now)), { qos: 1 });
    await c.endAsync();
    await eventually(() => {
      const codes = dead.list({ hub: 'demo' }).map((d) => d.code);
      return codes.includes('unregistered_sensor') && codes.includes('topic_mismatch');
    });
    expect(dead.list({ hub: 'demo', code: 'unregistered_sensor' })[0]?.reason).toMatch(/ghost-9/);
  });
});
