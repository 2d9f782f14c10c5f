/**
 * The broker's promise, checked at the wire: a device's PUBACK arrives only once its reading is in
 * the spool. A real Aedes broker with the intake in its publish path, a real mqtt.js device, and a
 * second SQLite connection reading the spool file at the moment each PUBACK arrives.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import { Intake } from '../ingest/index.ts';
import { Spool } from '../ingest/index.ts';
import { closeIntakeParts, openIntakeParts } from '../ingest/testing.ts';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import { silentLogger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { createBroker, type Broker } from './broker.ts';
import { refusedToDeadLetter } from './deadletter.ts';

describe('broker with the durable intake', () => {
  let dir: string;
  let registry: Registry;
  let spool: Spool;
  let deadLetters: DeadLetterStore;
  let metrics: PipelineMetrics;
  let intake: Intake;
  let broker: Broker;
  let url: string;
  const clients: MqttClient[] = [];
  let slowDisk = false;

  beforeEach(async () => {
    ({ dir, registry, deadLetters, metrics } = openIntakeParts('steward-broker-intake-'));
    spool = new Spool(dir);
    const config = parseConfig({ dataDir: dir, mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, maxRefusedPublishes: 3 } });
    intake = new Intake({ spool, deadLetters, registry, metrics, logger: silentLogger, config: config.ingest });
    // The intake as the broker sees it; `slowDisk` delays each commit by 20 ms, so a PUBACK sent
    // before the commit (instead of after it) would reach the device while the spool lacks it.
    const sink = { submit: (t: string, p: Buffer, d: Parameters<Intake['submit']>[2]) => (slowDisk ? setTimeout(() => intake.submit(t, p, d), 20) : intake.submit(t, p, d)), flush: () => intake.flush() };
    broker = createBroker({ config: config.mqtt, registry, logger: silentLogger, metrics, intake: sink, onRefusedPublish: refusedToDeadLetter(() => deadLetters) });
    url = `mqtt://127.0.0.1:${(await broker.start()).mqtt}`;
    for (const sensor of ['well-1', 'well-2']) await registry.addSensor({ hub: 'demo', domain: 'water', sensor, password: `pw-${sensor}-secret` });
  });
  afterEach(async () => {
    slowDisk = false;
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    closeIntakeParts({ dir, intake, spool, deadLetters, registry });
  });

  const device = async (sensor: string): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(url, { clientId: `demo.${sensor}`, username: `demo.${sensor}`, password: `pw-${sensor}-secret`, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };

  it('sends no PUBACK before the reading is in the spool file, even when the disk is slow', async () => {
    slowDisk = true;
    const dev = await device('well-1');
    // Another connection to the spool file, as a crash-recovered process would see it.
    const reader = new Database(join(dir, 'spool.db'), { readonly: true });
    const inSpool = reader.prepare("SELECT COUNT(*) AS n FROM spool WHERE json_extract(reading, '$.seq') = ?");
    const seenAtPuback: number[] = [];
    const N = 500;
    // Pipelined: all 500 in flight at once, as a busy device or gateway sends them.
    await Promise.all(
      Array.from({ length: N }, (_, seq) =>
        dev.publishAsync('csm/v1/demo/water/well-1/data', JSON.stringify({ ts: Date.now(), seq, metrics: { groundwater_level: 40 } }), { qos: 1 }).then(() => {
          seenAtPuback.push((inSpool.get(seq) as { n: number }).n);
        }),
      ),
    );
    reader.close();
    expect(seenAtPuback).toHaveLength(N);
    expect(seenAtPuback.every((n) => n === 1)).toBe(true);
  });

  it('acknowledges an invalid reading after it is kept as a dead letter, and routes only valid ones to raw readers', async () => {
    slowDisk = true; // an acknowledgement sent before the dead letter is written would be seen
    const dev = await device('well-1');
    const raw = await mqtt.connectAsync(url, { clientId: 'svc', username: 'svc', password: (await registry.addAccount({ name: 'svc', role: 'service' })).password, protocolVersion: 4 });
    clients.push(raw);
    const got: string[] = [];
    raw.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    await raw.subscribeAsync('csm/v1/+/+/+/data', { qos: 1 });
    await dev.publishAsync('csm/v1/demo/water/well-1/data', '{"ts": 1, "metrics": {', { qos: 1 });
    expect(deadLetters.list().map((d) => d.code)).toEqual(['malformed_json']);
    const good = JSON.stringify({ ts: Date.now(), seq: 1, metrics: { groundwater_level: 40 } });
    await dev.publishAsync('csm/v1/demo/water/well-1/data', good, { qos: 1 });
    const until = Date.now() + 5000;
    while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([`csm/v1/demo/water/well-1/data ${good}`]);
  });

  it('acknowledges and drops a refused publish (MQTT 3.1.1), keeps it as a dead letter, and closes only a client that keeps at it', async () => {
    const dev = await device('well-1');
    let closed = false;
    dev.on('close', () => (closed = true));
    // well-1 may not publish as well-2: acknowledged, not routed, not stored, connection kept.
    await dev.publishAsync('csm/v1/demo/water/well-2/data', JSON.stringify({ ts: Date.now(), seq: 1, metrics: { groundwater_level: 40 } }), { qos: 1 });
    await dev.publishAsync('$SYS/anything', 'x', { qos: 1 });
    expect(closed).toBe(false);
    expect(dev.connected).toBe(true);
    expect(spool.depth()).toBe(0);
    expect(deadLetters.list().map((d) => d.code)).toEqual(['topic_mismatch', 'topic_mismatch']);
    const refused = await metrics.brokerRefused.get();
    expect(refused.values.find((v) => v.labels.reason === 'publish_denied')?.value).toBe(2);
    // Past maxRefusedPublishes (3 here) the connection is closed.
    await dev.publishAsync('$SYS/anything', 'x', { qos: 1 });
    dev.publish('$SYS/anything', 'x', { qos: 1 });
    const until = Date.now() + 5000;
    while (!closed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
  });
});
