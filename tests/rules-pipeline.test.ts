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
import alertsRoutes from '../api/routes/alerts/index.ts';
import { zodPlugin } from '../api/zod.ts';
import { createBroker } from '../broker/broker.ts';
import { type Config, parseConfig } from '../core/config.ts';
import { createIngest, type Ingest } from '../ingest/ingest.ts';
import { createDefaultFilter } from '../privacy/boundary.ts';
import { Registry } from '../registry/registry.ts';
import { createRulesEngine, type RulesEngine } from '../rules/engine.ts';
import { ManualScheduler } from '../rules/scheduler.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createStore } from '../storage/index.ts';
import type { ReadingStore } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { connectAccount, connectDevice, eventually, type TestDevice } from './harness/devices.ts';

const HOUR = 3_600_000;
/** The engine's housekeeping (re-notifications): ticked by the test, never by itself. */
const HOUSEKEEPING = '*/10 * * * * *';
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
  // The engine's clock runs `ahead` ms ahead of the wall clock, and its schedules (the rule's cron,
  // housekeeping) run only when the test ticks them: no test waits for time to pass.
  let ahead = 0;
  const clock = { now: () => Date.now() + ahead };
  const scheduler = new ManualScheduler();
  /** Sensor of every reading the engine has been handed, in order. */
  const delivered: string[] = [];

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
      clock,
      scheduler,
      housekeeping: HOUSEKEEPING,
    });
    await rules.init();
    ingest.onReadings((rs) => rules.onReadings(rs));
    // Called after the engine's listener: a reading counted here is in the engine.
    ingest.onReadings((rs) => void delivered.push(...rs.map((r) => r.sensor)));
    rules.start();

    api = Fastify();
    await api.register(contextPlugin, { context: { config } as unknown as ApiContext, services: { alerts: rules } });
    await api.register(errorsPlugin);
    await api.register(zodPlugin);
    await api.register(authPlugin);
    await api.register(alertsRoutes, { prefix: '/api/v1' });
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
    // at t−72h … t publish hourly levels falling 0.5 m/day from 50 m; once the engine has all 73,
    // one tick of the rule's schedule: a firing alert projecting the 40 m floor in 17 days.
    const now = Date.now();
    for (let k = 0; k <= 72; k++) {
      const ts = now - (72 - k) * HOUR;
      await well.publishRaw(JSON.stringify({ ts, seq: k, metrics: { groundwater_level: 50 - 0.5 * (k / 24) } }));
    }
    await eventually(() => delivered.filter((s) => s === 'well-1').length === 73, 20_000, 20);
    await scheduler.run('* * * * * *');
    const alert = await eventually(() => got.find((g) => g.topic === 'csm/v1/demo/alerts/aquifer-depletion/well-1' && g.alert?.state === 'firing'), 10_000, 20);
    expect(alert.alert?.message).toMatch(/^Aquifer at well-1 \(demo\) is projected to reach its safe minimum of 40 m in 17 days \(on \d{4}-\d\d-\d\d\) at the current rate of -0.5 m\/day/);
    const res = await api.inject('/api/v1/alerts?state=firing');
    expect(res.json().alerts.map((a: { id: string }) => a.id)).toContain('demo.aquifer-depletion.well-1');
  });

  it('the battery alert fires on the reading itself, re-notifies when due, and stops after an ack through the API', async () => {
    // at t publish battery_soc 9 %: the threshold rule judges the reading as it arrives, so the
    // alert comes with no schedule ticked. A reminder once 2 s of the engine's clock have passed;
    // ack with the steward token; then however much time passes, no reminder.
    await battery.publishRaw(JSON.stringify({ ts: Date.now(), seq: 1, metrics: { battery_soc: 9 } }));
    const topic = 'csm/v1/demo/alerts/battery-low/battery-1';
    const fired = await eventually(() => got.find((g) => g.topic === topic && g.alert?.event === 'firing'), 10_000, 5);
    expect(fired.alert?.message).toMatch(/^Battery charge at battery-1 \(demo\) is 9%, below the limit of 20%; observed since /);
    ahead += 2_000;
    await scheduler.run(HOUSEKEEPING);
    await eventually(() => got.some((g) => g.topic === topic && g.alert?.event === 'renotify'), 10_000, 20);

    const ack = await api.inject({ method: 'POST', url: '/api/v1/alerts/demo.battery-low.battery-1/ack', headers: { authorization: `Bearer ${STEWARD_TOKEN}` }, payload: { comment: 'swapping in the spare' } });
    expect(ack.statusCode).toBe(200);
    const update = await eventually(() => got.find((g) => g.topic === topic && g.alert?.event === 'update'), 10_000, 20);
    expect(update.alert?.acknowledged?.by).toBe('ana');
    // Three reminder periods of the engine's clock, each with a housekeeping run that would remind
    // an unacknowledged alert (as the one above did).
    for (let i = 0; i < 3; i++) {
      ahead += 2_000;
      await scheduler.run(HOUSEKEEPING);
    }

    // Recovery: resolved, then the retained state is cleared.
    // Its 'resolved' is queued behind anything already sent about this alert, so it is the sentinel:
    // after the ack's update, the topic carries the recovery and nothing before it.
    await battery.publishRaw(JSON.stringify({ ts: Date.now(), seq: 2, metrics: { battery_soc: 30 } }));
    await eventually(() => got.some((g) => g.topic === topic && g.alert === null), 10_000, 20);
    const ofTopic = got.filter((g) => g.topic === topic);
    expect(ofTopic.slice(ofTopic.indexOf(update) + 1).map((g) => g.alert?.event ?? 'clear')).toEqual(['resolved', 'clear']);
  });
});
