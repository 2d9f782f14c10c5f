/**
 * Scenario: a hub runs broker, ingest, the embedded store, the rules engine and the API in one
 * process (as `steward start` will), all over real sockets. A well's piezometer reports three days
 * of a falling aquifer and the hub battery drops to 9 %; a hub member subscribed to the alert
 * topics with a `hub` account receives both alerts in plain words, the API lists them, and a
 * steward's acknowledgement through the API stops the battery alert's re-notifications.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authPlugin } from '../api/auth.ts';
import { type ApiContext, contextPlugin } from '../api/context.ts';
import { errorsPlugin } from '../api/error-handler.ts';
import { createBroker } from '../broker/broker.ts';
import { type Config, parseConfig } from '../core/config.ts';
import { createIngest, type Ingest } from '../ingest/ingest.ts';
import { createDefaultFilter } from '../privacy/boundary.ts';
import { Registry } from '../registry/registry.ts';
import { alertsRoutes } from '../rules/api.ts';
import { createRulesEngine, type RulesEngine } from '../rules/engine.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createStore } from '../storage/index.ts';
import type { ReadingStore } from '../storage/types.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { connectAccount, connectDevice, eventually, type TestDevice } from './harness/devices.ts';

const HOUR = 3_600_000;
const STEWARD_TOKEN = 'steward-token-for-the-rules-e2e';

const RULES = `
hub: demo
rules:
  - id: aquifer-depletion
    kind: depletion
    title: Aquifer
    severity: critical
    select: { metric: groundwater_level }
    window: 3d
    floor: 40
    horizon: 30d
    schedule: '* * * * * *'   # every second
  - id: battery-low
    kind: threshold
    title: Battery charge
    select: { metric: battery_soc }
    below: 20
    hysteresis: 5
    renotify: 2s
`;

interface Got {
  topic: string;
  at: number;
  alert: { id: string; event: string; state: string; message: string; acknowledged: { by: string } | null } | null;
}

describe('rules in the pipeline (broker → ingest → rules → MQTT and API)', () => {
  let dir: string;
  let config: Config;
  let registry: Registry;
  let broker: ReturnType<typeof createBroker>;
  let store: ReadingStore;
  let dead: DeadLetterStore;
  let ingest: Ingest;
  let rules: RulesEngine;
  let api: FastifyInstance;
  let rulesClient: MqttClient;
  let member: MqttClient;
  let well: TestDevice;
  let battery: TestDevice;
  const got: Got[] = [];
  const metrics = createMetrics();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-rules-e2e-'));
    mkdirSync(join(dir, 'rules-conf'));
    writeFileSync(join(dir, 'rules-conf', 'demo.yaml'), RULES);
    config = parseConfig({ dataDir: dir, mqtt: { port: 0, wsPort: 0, host: '127.0.0.1' }, ingest: { flushIntervalMs: 50 }, http: { tokens: [{ name: 'ana', token: STEWARD_TOKEN, role: 'steward' }] } });
    registry = Registry.open(dir);
    broker = createBroker({ config: config.mqtt, registry, logger: silentLogger, metrics });
    const ports = await broker.start();
    const url = `mqtt://127.0.0.1:${ports.mqtt}`;
    store = createStore(config, { logger: silentLogger, metrics });
    await store.start();
    dead = new DeadLetterStore(dir);
    const ingestAccount = await registry.addAccount({ name: 'ingest', role: 'service' });
    ingest = createIngest({ config, store, registry, deadLetters: dead, privacy: createDefaultFilter(), metrics, logger: silentLogger, credentials: { username: 'ingest', password: ingestAccount.password }, brokerUrl: url });
    await ingest.start();

    // The rules service publishes alerts with its own service account.
    const rulesAccount = await registry.addAccount({ name: 'rules', role: 'service' });
    rulesClient = await connectAccount(url, 'rules', rulesAccount.password, 'steward-rules');
    rules = createRulesEngine({
      rulesDir: join(dir, 'rules-conf'),
      stateDir: join(dir, 'rules'),
      store,
      // The broker's ACL lets service accounts publish under csm/ and public/ only (see the report).
      regionalPrefix: false,
      publish: async (topic, payload, o) => void (await rulesClient.publishAsync(topic, payload, o)),
      sensors: () => registry.listSensors(),
      logger: silentLogger,
      metrics,
      housekeeping: '* * * * * *',
    });
    await rules.init();
    ingest.onReadings((rs) => rules.onReadings(rs));
    rules.start();

    api = Fastify();
    await api.register(contextPlugin, { context: { config } as unknown as ApiContext });
    await api.register(errorsPlugin);
    await api.register(authPlugin);
    await api.register(alertsRoutes({ engine: rules, requireRole: api.requireRole }));
    await api.ready();

    // A hub member: account of role hub, reading the demo hub's alerts.
    const hubAccount = await registry.addAccount({ name: 'members', role: 'hub', hub: 'demo' });
    member = await connectAccount(url, 'members', hubAccount.password);
    member.on('message', (topic, payload) => got.push({ topic, at: Date.now(), alert: payload.length ? JSON.parse(payload.toString()) : null }));
    await member.subscribeAsync('csm/v1/demo/alerts/#', { qos: 1 });

    well = await connectDevice(registry, url, 'demo', 'water', 'well-1');
    battery = await connectDevice(registry, url, 'demo', 'energy', 'battery-1');
  }, 60_000);

  afterAll(async () => {
    await well?.end();
    await battery?.end();
    await member?.endAsync();
    await api?.close();
    await rules?.stop();
    await rulesClient?.endAsync();
    await ingest?.stop();
    await broker?.stop();
    await store?.stop();
    dead?.close?.();
    registry?.close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a falling aquifer becomes a depletion forecast on the hub topic and in the API', async () => {
    // at t−72h … t publish hourly levels falling 0.5 m/day from 50 m; expect within ~2 s (schedule
    // every second) a firing alert projecting the 40 m floor in 17 days.
    const now = Date.now();
    for (let k = 0; k <= 72; k++) {
      const ts = now - (72 - k) * HOUR;
      await well.publishRaw(JSON.stringify({ ts, seq: k, metrics: { groundwater_level: 50 - 0.5 * (k / 24) } }));
    }
    const sent = Date.now();
    const alert = await eventually(() => got.find((g) => g.topic === 'csm/v1/demo/alerts/aquifer-depletion/well-1' && g.alert?.state === 'firing'), 10_000, 20);
    expect(alert.at - sent).toBeLessThan(3000);
    expect(alert.alert?.message).toMatch(/^Aquifer at well-1 \(demo\) is projected to reach its safe minimum of 40 m in 17 days \(on \d{4}-\d\d-\d\d\) at the current rate of -0.5 m\/day/);
    const res = await api.inject('/api/v1/alerts?state=firing');
    expect(res.json().alerts.map((a: { id: string }) => a.id)).toContain('demo.aquifer-depletion.well-1');
  });

  it('the battery alert arrives within a fraction of a second, re-notifies, and stops after an ack through the API', async () => {
    // at t publish battery_soc 9 %; expect the firing alert at the member within 500 ms; expect a
    // reminder every 2 s; ack with the steward token; expect the acknowledged state, then silence.
    const sentAt = Date.now();
    await battery.publishRaw(JSON.stringify({ ts: sentAt, seq: 1, metrics: { battery_soc: 9 } }));
    const topic = 'csm/v1/demo/alerts/battery-low/battery-1';
    const fired = await eventually(() => got.find((g) => g.topic === topic && g.alert?.event === 'firing'), 5000, 5);
    expect(fired.at - sentAt).toBeLessThan(500);
    expect(fired.alert?.message).toMatch(/^Battery charge at battery-1 \(demo\) is 9%, below the limit of 20%; observed since /);
    await eventually(() => got.some((g) => g.topic === topic && g.alert?.event === 'renotify'), 8000, 20);

    const ack = await api.inject({ method: 'POST', url: '/api/v1/alerts/demo.battery-low.battery-1/ack', headers: { authorization: `Bearer ${STEWARD_TOKEN}` }, payload: { comment: 'swapping in the spare' } });
    expect(ack.statusCode).toBe(200);
    const update = await eventually(() => got.find((g) => g.topic === topic && g.alert?.event === 'update'), 5000, 20);
    expect(update.alert?.acknowledged?.by).toBe('ana');
    const before = got.filter((g) => g.topic === topic).length;
    await new Promise((r) => setTimeout(r, 5000));
    expect(got.filter((g) => g.topic === topic).length).toBe(before); // no more reminders

    // Recovery: resolved, then the retained state is cleared.
    await battery.publishRaw(JSON.stringify({ ts: Date.now(), seq: 2, metrics: { battery_soc: 30 } }));
    await eventually(() => got.some((g) => g.topic === topic && g.alert === null), 5000, 20);
    expect(got.filter((g) => g.topic === topic).map((g) => g.alert?.event ?? 'clear').slice(-2)).toEqual(['resolved', 'clear']);
  });
});
