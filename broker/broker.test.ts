import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../core/config.ts';
import { Registry } from '../registry/index.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { createBroker, type Broker } from './broker.ts';
import { BrokerError } from './errors.ts';

describe('broker lifecycle and in-process API', () => {
  let dir: string;
  let registry: Registry;
  const brokers: Broker[] = [];
  const mqttConfig = (over: Record<string, unknown> = {}): Config['mqtt'] => parseConfig({ mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, ...over } }).mqtt;
  const make = (over: Record<string, unknown> = {}): Broker => {
    const b = createBroker({ config: mqttConfig(over), registry, logger: silentLogger, metrics: createMetrics() });
    brokers.push(b);
    return b;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-broker-unit-'));
    registry = Registry.open(dir);
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds free ports for port 0, reports up, and stops idempotently', async () => {
    const b = make();
    expect(b.isUp()).toBe(false);
    expect(() => b.aedes).toThrow(BrokerError);
    const ports = await b.start();
    expect(ports.mqtt).toBeGreaterThan(0);
    expect(ports.ws).toBeGreaterThan(0);
    expect(ports.ws).not.toBe(ports.mqtt);
    expect(ports.tls).toBeUndefined();
    expect(b.ports()).toEqual(ports);
    expect(b.isUp()).toBe(true);
    expect(b.connectedClients()).toBe(0);
    await expect(b.start()).rejects.toMatchObject({ code: 'BROKER_ERR_STATE' });
    await b.stop();
    await b.stop();
    expect(b.isUp()).toBe(false);
    // The port is released.
    const probe: Server = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(ports.mqtt, '127.0.0.1', () => resolve()));
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('disconnects clients on stop', async () => {
    await registry.addAccount({ name: 'ingest', role: 'service', password: 'service-pw-1' });
    const b = make();
    const { mqtt: port } = await b.start();
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'ingest', password: 'service-pw-1', reconnectPeriod: 0 });
    expect(b.connectedClients()).toBe(1);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await b.stop();
    await closed;
    c.end(true);
  });

  it('publishes and subscribes in process', async () => {
    const b = make();
    await expect(b.publish('x', 'y')).rejects.toMatchObject({ code: 'BROKER_ERR_STATE' });
    await b.start();
    const got: Array<[string, string]> = [];
    const unsubscribe = await b.subscribe('csm/v1/+/alerts/#', (topic, payload) => {
      got.push([topic, payload.toString()]);
    });
    const all = await b.subscribe('#', (topic) => {
      if (topic.startsWith('$')) got.push(['leak', topic]);
    });
    await b.publish('csm/v1/north/alerts/low/well-1', '{"state":"firing"}', { qos: 1, retain: true });
    await b.publish('$SYS/custom', 'x');
    await unsubscribe();
    await b.publish('csm/v1/north/alerts/low/well-1', 'after');
    await all();
    expect(got).toEqual([['csm/v1/north/alerts/low/well-1', '{"state":"firing"}']]);
    await expect(b.publish('csm/+/x', 'y')).rejects.toMatchObject({ code: 'BROKER_ERR_TOPIC' });
    await expect(b.subscribe('a/#/b', () => undefined)).rejects.toMatchObject({ code: 'BROKER_ERR_TOPIC' });
  });

  it('knows whether a topic has a subscriber here (clients and in-process), and forgets one that leaves', async () => {
    await registry.addAccount({ name: 'reader', role: 'service', password: 'service-pw-2' });
    const b = make();
    const { mqtt: port } = await b.start();
    expect(b.hasSubscribers('public/v1/demo/water/well-1')).toBe(false);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'reader', password: 'service-pw-2', clientId: 'reader-1', reconnectPeriod: 0 });
    await c.subscribeAsync('public/v1/demo/+/+', { qos: 0 });
    expect(b.hasSubscribers('public/v1/demo/water/well-1')).toBe(true);
    expect(b.hasSubscribers('public/v1/north/water/well-1')).toBe(false);
    await c.endAsync();
    const until = Date.now() + 5000;
    while (b.hasSubscribers('public/v1/demo/water/well-1') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(b.hasSubscribers('public/v1/demo/water/well-1')).toBe(false);
    const off = await b.subscribe('csm/v1/+/+/+/data', () => undefined);
    expect(b.hasSubscribers('csm/v1/demo/water/well-1/data')).toBe(true);
    await off();
    expect(b.hasSubscribers('csm/v1/demo/water/well-1/data')).toBe(false);
  });

  it('fails to start with BROKER_ERR_LISTEN when a port is taken, and releases what it bound', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const b = make({ wsPort: taken });
      await expect(b.start()).rejects.toMatchObject({ name: 'BrokerError', code: 'BROKER_ERR_LISTEN' });
      expect(b.isUp()).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('refuses unusable options at creation', () => {
    expect(() => make({ tlsCert: '/tmp/cert.pem' })).toThrow(expect.objectContaining({ code: 'BROKER_ERR_OPTIONS' }));
  });
});
