/**
 * A real mini hub for the console's tests and for trying the page by hand: Aedes broker, ingest
 * (spool, privacy boundary, embedded store), the rules engine with the default rules, and the API
 * with the open-data, alerts and console routes, on free loopback ports. The demo fleet's
 * readings are generated offline (simulators/runner.ts `generate`) and published over MQTT by
 * one registered client per sensor, so every reading crosses the same path as in production.
 *
 * Try it: `npx tsx console/testing.ts` (prints the URL; Ctrl+C stops it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { buildApp, type StreamOptions } from '../api/index.ts';
import { createBroker } from '../broker/index.ts';
import { refusedToDeadLetter } from '../broker/index.ts';
import { ATTRIBUTES } from '../core/catalogue.ts';
import { type Config, parseConfig } from '../core/config.ts';
import { createIngest, type Ingest } from '../ingest/index.ts';
import { createPrivacy } from '../egress/index.ts';
import { Registry } from '../registry/index.ts';
import { DEFAULT_RULES_DIR } from '../rules/index.ts';
import { createRulesEngine, type RulesEngine } from '../rules/index.ts';
import { ManualScheduler, type Scheduler } from '../rules/index.ts';
import { demoFleet, type FleetEntry } from '../simulators/index.ts';
import { generate, type SimMessage } from '../simulators/index.ts';
import { DeadLetterStore } from '../storage/index.ts';
import { createStore } from '../storage/index.ts';
import type { ReadingStore } from '../core/store.ts';
import { createLogger, silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { createLiveFeed, type LiveFeed } from './live.ts';
import { type ConsoleServiceOptions, createConsoleService } from './service.ts';
import { thresholdsFromRulesDir } from '../rules/index.ts';

/** Tokens the test hub accepts. */
export const HUB_TOKENS = {
  steward: 'console-steward-token-0123456789',
  technician: 'console-technician-token-0123456789',
} as const;

export interface ConsoleHubOptions {
  hub?: string;
  /** Simulation scenario (default `drought`). */
  scenario?: string;
  /** Scenario start, epoch ms (default 30 days before `simStart`: a drought already under way). */
  scenarioStartMs?: number;
  /** Simulated seconds between readings of every sensor (default 1800). */
  intervalS?: number;
  seed?: number;
  /** Rules engine scheduler (default a ManualScheduler the caller ticks with `evaluate()`). */
  scheduler?: Scheduler;
  /** Where the console's assets are built (default a temp dir inside the hub's data dir). */
  distDir?: string;
  /** More console options (title, build...). */
  console?: Partial<ConsoleServiceOptions>;
  /** Tuning of the event stream (heartbeat, flush...). */
  stream?: StreamOptions;
  logger?: Logger;
}

export interface ConsoleHub {
  url: string;
  hub: string;
  readonly app: FastifyInstance;
  config: Config;
  registry: Registry;
  store: ReadingStore;
  rules: RulesEngine;
  live: LiveFeed;
  ingest: Ingest;
  dataDir: string;
  /**
   * Publishes the fleet's readings for simulated times in [fromMs, toMs] over MQTT (one simulated
   * world, continued from the previous replay), and runs the rules' schedules every
   * `evaluateEveryMs` of simulated time once ingest has taken what came before. Returns how many
   * readings were published.
   */
  replay(fromMs: number, toMs: number, opts?: { evaluateEveryMs?: number; onChunk?: (simTime: number) => Promise<void> | void }): Promise<number>;
  /** Closes the API (ending its streams), waits `downMs`, and starts a new one on the same port. */
  restartApi(downMs?: number): Promise<void>;
  /** Personal values (observer names, emails, phones, household ids, notes) the fleet has published so far. */
  readonly personal: ReadonlySet<string>;
  /** Publishes one native payload as `sensor` (QoS 1; resolves on the PUBACK). */
  publish(sensor: string, payload: Record<string, unknown>): Promise<void>;
  /** Runs every windowed and deadman rule now. */
  evaluate(): Promise<void>;
  /** Waits until ingest has taken every reading published so far and forwarded it to storage. */
  drained(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the hub. Close it with `close()` (removes its data dir). */
export async function startConsoleHub(opts: ConsoleHubOptions = {}): Promise<ConsoleHub> {
  const hub = opts.hub ?? 'demo';
  const logger = opts.logger ?? silentLogger;
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-console-'));
  const closers: Array<() => Promise<void> | void> = [() => rmSync(dataDir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, 'console hub: close step failed');
      }
    }
  };
  try {
    const config = parseConfig({
      dataDir,
      mqtt: { port: 0, wsPort: 0, host: '127.0.0.1' },
      ingest: { flushIntervalMs: 50 },
      http: {
        host: '127.0.0.1',
        port: 0,
        tokens: [
          { name: 'stew', token: HUB_TOKENS.steward, role: 'steward' },
          { name: 'tech', token: HUB_TOKENS.technician, role: 'technician' },
        ],
      },
    });
    const metrics = createMetrics();
    const registry = Registry.open(dataDir);
    closers.push(() => registry.close());
    const deadLetters = new DeadLetterStore(dataDir);
    closers.push(() => deadLetters.close());
    const store = createStore(config, { logger, metrics });
    await store.start();
    closers.push(() => store.stop());
    const broker = createBroker({ config: config.mqtt, registry, logger, metrics, onRefusedPublish: refusedToDeadLetter(() => deadLetters) });
    const ports = await broker.start();
    closers.push(() => broker.stop());
    const brokerUrl = `mqtt://127.0.0.1:${ports.mqtt}`;
    const privacy = createPrivacy({ config: config.privacy, dataDir, logger, metrics });
    closers.push(() => privacy.stop());

    const live = createLiveFeed();
    const scheduler = opts.scheduler ?? new ManualScheduler();
    const fleet: FleetEntry[] = demoFleet(hub);
    const rules = createRulesEngine({ rulesDir: DEFAULT_RULES_DIR, stateDir: join(dataDir, 'rules'), store, logger, scheduler, watch: false, sink: live.alertSink(), sensors: () => registry.listSensors().map((s) => ({ hub: s.hub, sensor: s.sensor, domain: s.domain, site: s.site })) });
    await rules.init();
    rules.start();
    closers.push(() => rules.stop());

    const svc = await registry.addAccount({ name: 'ingest', role: 'service' });
    const ingest = createIngest({ config, store, registry, deadLetters, privacy: privacy.boundary, metrics, logger, credentials: { username: 'ingest', password: svc.password }, brokerUrl, onStored: (r) => live.publishReadings(r) });
    ingest.onReadings((r) => rules.onReadings(r));
    privacy.start();
    await ingest.start();
    closers.push(() => ingest.stop());

    const distDir = opts.distDir ?? join(dataDir, 'console-dist');
    const thresholds = thresholdsFromRulesDir(DEFAULT_RULES_DIR);
    const startApp = async (port: number): Promise<FastifyInstance> => {
      const a = await buildApp({
        config,
        store,
        registry,
        deadLetters,
        metrics,
        logger,
        // The services the all-in-one `steward start` gives its API (cli/roles.ts).
        services: { policy: privacy.watcher, alerts: rules, console: createConsoleService({ feed: live, thresholds, distDir, build: 'auto', ...opts.console }) },
        ...(opts.stream ? { stream: opts.stream } : {}),
      });
      await a.listen({ host: '127.0.0.1', port });
      return a as unknown as FastifyInstance;
    };
    let app = await startApp(0);
    closers.push(() => app.close());
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const url = `http://127.0.0.1:${port}`;

    // One MQTT client per sensor, as real devices.
    const clients = new Map<string, MqttClient>();
    for (const e of fleet) {
      const password = `pw-${e.sensor}-secret-value`;
      await registry.addSensor({ hub, domain: e.domain, sensor: e.sensor, password, site: e.site, kind: e.kind });
      const username = `${hub}.${e.sensor}`;
      const c = await mqtt.connectAsync(brokerUrl, { clientId: username, username, password, protocolVersion: 4, clean: true, reconnectPeriod: 500 });
      clients.set(e.sensor, c);
    }
    closers.push(async () => {
      for (const c of clients.values()) await c.endAsync(true).catch(() => undefined);
    });

    const evaluate = async (): Promise<void> => {
      if (scheduler instanceof ManualScheduler) await scheduler.run();
      else rules.evaluate();
    };
    const seed = opts.seed ?? 42;
    let sim: Generator<SimMessage> | undefined;
    const personal = new Set<string>();
    const notePersonal = (payload: { attributes?: Record<string, unknown> }): void => {
      for (const [k, v] of Object.entries(payload.attributes ?? {})) if (ATTRIBUTES[k]?.personal && typeof v === 'string' && v.length >= 4) personal.add(v);
    };
    let held: SimMessage | undefined;
    // The broker acknowledges a device's QoS 1 publish before ingest has it: count what ingest took.
    let published = 0;
    const received = async (): Promise<number> => {
      const sum = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> => (await c.get()).values.reduce((a, v) => a + v.value, 0);
      return (await sum(metrics.readingsAccepted)) + (await sum(metrics.readingsRejected));
    };
    return {
      url,
      hub,
      get app() {
        return app;
      },
      async restartApi(downMs = 0) {
        await app.close();
        if (downMs) await new Promise((r) => setTimeout(r, downMs));
        app = await startApp(port);
      },
      config,
      registry,
      store,
      rules,
      live,
      ingest,
      dataDir,
      evaluate,
      personal,
      async publish(sensor, payload) {
        const c = clients.get(sensor);
        const e = fleet.find((f) => f.sensor === sensor);
        if (!c || !e) throw new Error(`no sensor ${sensor} in the demo fleet`);
        await c.publishAsync(`csm/v1/${hub}/${e.domain}/${sensor}/data`, JSON.stringify(payload), { qos: 1 });
        published++;
      },
      async replay(fromMs, toMs, o = {}) {
        const every = o.evaluateEveryMs ?? 6 * 3_600_000;
        // One simulation across replays, so the hub's world (aquifer, battery, weather) carries on.
        sim ??= generate(fleet, seed, fromMs, fromMs + 366 * 86_400_000, {
          hub,
          scenario: opts.scenario ?? 'drought',
          scenarioStartMs: opts.scenarioStartMs ?? fromMs - 30 * 86_400_000,
          intervalS: opts.intervalS ?? 1800,
        });
        const gen = (function* (): Generator<SimMessage> {
          for (;;) {
            const m = held ?? sim!.next().value;
            held = undefined;
            if (!m) return;
            if (m.payload.ts > toMs) {
              held = m;
              return;
            }
            if (m.payload.ts >= fromMs) yield m;
          }
        })();
        let n = 0;
        let nextEval = fromMs + every;
        let batch: SimMessage[] = [];
        const flush = async (): Promise<void> => {
          // Concurrent across sensors, in order within each (one client per sensor, QoS 1).
          await Promise.all(batch.map((m) => (clients.get(m.sensor) as MqttClient).publishAsync(m.topic, JSON.stringify(m.payload), { qos: 1 })));
          n += batch.length;
          published += batch.length;
          batch = [];
        };
        const caughtUp = async (): Promise<void> => {
          const until = Date.now() + 10_000;
          while ((await received()) < published && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        };
        for (const m of gen) {
          if (m.payload.ts >= nextEval) {
            await flush();
            await caughtUp(); // the rules have seen everything before they evaluate
            await evaluate();
            await o.onChunk?.(nextEval);
            while (nextEval <= m.payload.ts) nextEval += every;
          }
          notePersonal(m.payload as { attributes?: Record<string, unknown> });
          batch.push(m);
          if (batch.length >= 200) await flush();
        }
        await flush();
        await caughtUp();
        await evaluate();
        await o.onChunk?.(toMs);
        return n;
      },
      async drained(timeoutMs = 10_000) {
        const until = Date.now() + timeoutMs;
        while ((await received()) < published || ingest.spoolDepth() > 0) {
          if (Date.now() > until) throw new Error(`ingest took ${await received()} of ${published} readings and its spool holds ${ingest.spoolDepth()} after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const days = Number(process.env.DAYS ?? 3);
  const h = await startConsoleHub({ logger: createLogger('warn'), scheduler: undefined });
  const now = Date.now();
  console.log(`console: ${h.url}  (steward token ${HUB_TOKENS.steward}, technician token ${HUB_TOKENS.technician})`);
  const n = await h.replay(now - days * 86_400_000, now);
  console.log(`replayed ${n} readings of ${days} simulated days (drought); Ctrl+C stops`);
  process.once('SIGINT', () => void h.close().then(() => process.exit(0)));
}
