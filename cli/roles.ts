/**
 * Wiring of the long-running roles: one function per role, taking (config, logger) and returning
 * a handle with `stop()`. Each role opens what it needs (registry, store, dead letters, metrics)
 * unless the all-in-one `start` hands it shared ones. `runUntilSignal` stops roles in reverse
 * order of start on SIGINT/SIGTERM: sim -> ingest (flushes its spool) -> API -> broker -> storage.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { startApi } from '../api/index.ts';
import type { SensorState } from '../api/index.ts';
import type { Config } from '../core/config.ts';
import { ALL_STATUS_FILTER, PUBLIC_ROOT, parseTopic } from '../core/topics.ts';
import { createBroker, type Broker, type BrokerPorts } from '../broker/index.ts';
import { createIngest, type Ingest } from '../ingest/index.ts';
import { rejectionPublisher } from '../ingest/index.ts';
import { type BatchReport, createPipeline, type Pipeline, type StoredMode } from '../ingest/index.ts';
import { startOpsServer, type OpsServer, type ReadinessCheck } from '../telemetry/ops.ts';
import { refusedToDeadLetter } from '../broker/index.ts';
import type { ApiServices } from '../api/index.ts';
import { createKeyring, createPublicPublisher, createUpstream, loadPolicy, type Privacy, type PublishFn, type Upstream, type UpstreamHandover } from '../egress/index.ts';
import { DEFAULT_POLICY_PATH, fixedPolicy, type PolicySource } from '../privacy/index.ts';
import type { StoredReading } from '../core/store.ts';
import { getSimulator } from '../simulators/index.ts';
import { SimulatorError } from '../simulators/index.ts';
import { demoFleet, type FleetEntry } from '../simulators/index.ts';
import { createSimRunner, type SimRunner } from '../simulators/index.ts';
import { SCENARIOS, seasonShiftTo } from '../simulators/index.ts';
import { Registry } from '../registry/index.ts';
import { DeadLetterStore } from '../storage/index.ts';
import { createStore } from '../storage/index.ts';
import type { ReadingStore } from '../core/store.ts';
import { createLogger, wantsPretty } from '../telemetry/log.ts';
import { createMetrics, type PipelineMetrics } from '../telemetry/metrics.ts';
import { CliError, EXIT } from './errors.ts';
import { openPrivacy } from './privacy.ts';
import { createRules, subscribeRaw } from './rules-role.ts';
import { createLiveFeed } from '../console/index.ts';
import { type ConsoleClock, consoleIndexPath, createConsoleService } from '../console/index.ts';
import { thresholdsFromRulesDir } from '../rules/index.ts';
import { DEFAULT_RULES_DIR } from '../rules/index.ts';
import type { RulesEngine } from '../rules/index.ts';
import type { CliIo } from './program.ts';
import { ensureSimCredentials, type SimSensorSpec } from './sim-credentials.ts';
import { connectCluster, type ClusterLink } from '../cluster/index.ts';
import { startClusterRules } from '../cluster/index.ts';
import { startClusterUpstream, streamHandover } from '../cluster/index.ts';
import { startRegistryMirror } from '../registry/index.ts';

/** A running role. */
export interface RoleHandle {
  readonly name: string;
  /** Stops the role and releases what it opened. Idempotent. */
  stop(): Promise<void>;
}

/** What roles running in one process share (one registry, one store, one metrics registry). */
export interface SharedResources {
  registry: Registry;
  metrics: PipelineMetrics;
  store: ReadingStore;
  deadLetters: DeadLetterStore;
}

/** Runs `fn` once, however often the returned function is called. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}

/**
 * Opens the registry, metrics, store (started) and dead letters of the data dir. The handle's
 * `stop()` closes them (stop it last).
 */
export async function openResources(config: Config, logger: Logger, parts: { store?: boolean; deadLetters?: boolean } = {}): Promise<RoleHandle & { resources: Partial<SharedResources> & Pick<SharedResources, 'registry' | 'metrics'> }> {
  const registry = Registry.open(config.dataDir);
  const metrics = createMetrics({ defaults: true });
  const resources: Partial<SharedResources> & Pick<SharedResources, 'registry' | 'metrics'> = { registry, metrics };
  try {
    if (parts.store !== false) {
      const store = createStore(config, { logger: logger.child({ role: 'storage' }), metrics });
      await store.start();
      resources.store = store;
    }
    if (parts.deadLetters !== false) resources.deadLetters = new DeadLetterStore(config.dataDir);
  } catch (e) {
    await resources.store?.stop().catch(() => undefined);
    registry.close();
    throw e;
  }
  return {
    name: 'storage',
    resources,
    stop: once(async () => {
      await resources.store?.stop();
      resources.deadLetters?.close();
      registry.close();
    }),
  };
}

/** Open data, sent only once storage took it: public MQTT topics and the regional upstream. */
interface Egress {
  /** The pipeline's `onStored`. */
  onStored(records: StoredReading[]): void;
  /**
   * Which stored records `onStored` needs now: all (an upstream, a live public subscriber, another
   * consumer), the newest per sensor (only retained public messages to keep current), or none.
   */
  storedMode(): StoredMode;
  upstream?: Upstream;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function createEgress(
  config: Config,
  logger: Logger,
  metrics: PipelineMetrics,
  publish: PublishFn,
  o: {
    liveSubscribers?: (topic: string) => boolean;
    /** Does anyone subscribe under `public/v1` (asked every 250 ms)? Without it: assume so. */
    anyPublicSubscriber?: () => boolean;
    onStored?: (records: StoredReading[]) => void;
    /** Which records `onStored`'s consumer wants now (console/live.ts `wants()`). Without it: all. */
    storedWanted?: () => 'all' | 'detections' | 'none';
    handover?: UpstreamHandover;
  } = {},
): Egress {
  const upstream = config.privacy.upstream ? createUpstream({ ...config.privacy.upstream, hub: config.simulators.hub, dataDir: config.dataDir, logger, metrics, ...(o.handover ? { handover: o.handover } : {}) }) : undefined;
  const publicPublisher = config.privacy.public.mqtt
    ? createPublicPublisher({ publish, logger, metrics, retain: config.privacy.public.retain, ...(o.liveSubscribers ? { liveSubscribers: o.liveSubscribers } : {}) })
    : undefined;
  return {
    onStored(records) {
      void publicPublisher?.publish(records);
      // The upstream forwards its own hub's records (a node may carry several hubs' devices).
      if (upstream) upstream.enqueue(records.filter((r) => r.hub === config.simulators.hub));
      o.onStored?.(records);
    },
    storedMode() {
      const consumer = o.onStored ? (o.storedWanted?.() ?? 'all') : 'none';
      if (upstream || consumer === 'all') return 'all';
      const published: StoredMode = !publicPublisher ? 'none' : !o.liveSubscribers || (o.anyPublicSubscriber?.() ?? true) ? 'all' : config.privacy.public.retain ? 'latest' : 'none';
      if (consumer === 'none' || published === 'all') return published;
      return published === 'latest' ? 'latest+detections' : 'detections';
    },
    ...(upstream ? { upstream } : {}),
    start: async () => upstream?.start(),
    stop: async () => upstream?.stop(),
  };
}

/** The forwarder thread's entry: the built .js beside this file, or the source under tsx. */
const FORWARDER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './forwarder-thread.ts' : './forwarder-thread.js', import.meta.url);

/**
 * Where readings go and who watches, as the in-broker pipeline and the separate ingest both take
 * it. With `ingest.forwarderThread` the forwarder runs in a worker thread that opens its own
 * store, privacy boundary and dead letters from the config.
 */
function readingPath(config: Config, r: SharedResources, privacy: Privacy, egress: Egress, logger: Logger, onBatch?: (report: BatchReport) => void) {
  const thread = config.ingest.forwarderThread
    ? { thread: { entry: FORWARDER_ENTRY, data: { config, pretty: wantsPretty(), nice: config.ingest.forwarderNice }, storedMode: egress.storedMode, ...(onBatch ? { onBatch } : {}) } }
    : {};
  return { config, store: r.store, registry: r.registry, deadLetters: r.deadLetters, privacy: privacy.boundary, metrics: r.metrics, logger, onStored: egress.onStored, ...thread };
}

/** What a node's broker role returns. */
export interface BrokerRole extends RoleHandle {
  broker: Broker;
  ports: BrokerPorts;
  /** The durable pipeline in the broker's publish path (absent with `intake: false`). */
  pipeline?: Pipeline;
  upstream?: Upstream;
  /** With `cluster.redis`: the node's link to the cluster (README "Scale out"). */
  cluster?: ClusterLink;
}

/**
 * A Steward node: the MQTT broker (Aedes, authenticating against the registry) with the durable
 * intake in its publish path (a device's PUBACK waits for the spool commit) and the forwarder
 * (spool -> privacy -> storage -> public MQTT, upstream). Alone (`steward broker`) it also serves
 * /health, /ready and /metrics on `http.rolePorts.broker`.
 */
export async function startBrokerRole(
  config: Config,
  logger: Logger,
  opts: {
    shared?: SharedResources;
    privacy?: Privacy;
    onStored?: (records: StoredReading[]) => void;
    /** Which records `onStored`'s consumer wants now (the console: all with live viewers, species detections for its tally). Default: all. */
    storedWanted?: () => 'all' | 'detections' | 'none';
    /** Each batch the forwarder's thread stored (benchmarks: publish-to-stored latency). */
    onForwarded?: (report: BatchReport) => void;
    intake?: boolean;
    ops?: boolean;
  } = {},
): Promise<BrokerRole> {
  const withIntake = opts.intake !== false;
  const own = opts.shared ? undefined : await openResources(config, logger, { store: withIntake, deadLetters: true });
  const r = (opts.shared ?? own!.resources) as SharedResources;
  const cleanup: Array<() => Promise<void> | void> = [];
  const undo = async (): Promise<void> => {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
    await own?.stop();
  };
  let privacy: Privacy | undefined;
  let egress: Egress | undefined;
  let pipeline: Pipeline | undefined;
  // On a cluster (connected below), set before anything starts; the upstream's hand-over to it, made once.
  let cluster: ClusterLink | undefined;
  let toStream: UpstreamHandover | undefined;
  const brokerRef: { current?: Broker } = {};
  const inProcessPublish = (t: string, p: string | Buffer, o: { qos: 0 | 1; retain?: boolean }): Promise<void> =>
    brokerRef.current ? brokerRef.current.publish(t, p, { qos: o.qos, retain: o.retain ?? false }) : Promise.reject(new Error('the broker is not started'));
  if (withIntake) {
    try {
      privacy = opts.privacy ?? openPrivacy(config, logger, r.metrics);
    } catch (e) {
      await undo();
      throw e;
    }
    if (!opts.privacy) cleanup.push(() => privacy!.stop());
    // hasSubscribers() knows this node's clients only: on a cluster every node publishes.
    egress = createEgress(config, logger, r.metrics, inProcessPublish, {
      ...(config.cluster.redis
        ? {}
        : { liveSubscribers: (topic: string) => brokerRef.current?.hasSubscribers(topic) ?? false, anyPublicSubscriber: () => brokerRef.current?.hasSubscribersWithin(PUBLIC_ROOT) ?? false }),
      ...(opts.onStored ? { onStored: opts.onStored } : {}),
      ...(opts.storedWanted ? { storedWanted: opts.storedWanted } : {}),
      // On a cluster one node per hub runs the upstream; the others hand their rows over (cluster/upstream.ts).
      ...(config.cluster.redis ? { handover: (rows) => (toStream ??= streamHandover(cluster!.redis, config.simulators.hub))(rows) } : {}),
    });
    // Stops after the pipeline (pushed before it: cleanup runs in reverse), so what the pipeline
    // forwards while it stops is still buffered for the region.
    const eg = egress;
    cleanup.push(() => eg.stop());
    pipeline = createPipeline({
      ...readingPath(config, r, privacy, egress, logger, opts.onForwarded),
      onRejected: rejectionPublisher(inProcessPublish, logger),
    });
    const pl = pipeline;
    cleanup.push(() => pl.stop());
  }
  // On a cluster: sessions, retained messages and subscriptions in Redis, messages routed through
  // it, and the registry mirrored (registry/cluster.ts).
  if (config.cluster.redis) {
    cluster = connectCluster(config, logger);
    const link = cluster;
    const mirror = startRegistryMirror({ dataDir: config.dataDir, redis: link.redis, subscriber: link.subscriber(), logger });
    cleanup.push(() => mirror.stop());
    await Promise.race([mirror.ready, new Promise((res) => setTimeout(res, 5000).unref())]);
  }
  const broker = createBroker({
    config: config.mqtt,
    registry: r.registry,
    metrics: r.metrics,
    logger,
    ...(cluster ? cluster.aedes : {}),
    // Publishes the ACL refuses are kept as dead letters (topic_mismatch), not lost.
    onRefusedPublish: refusedToDeadLetter(() => r.deadLetters),
    ...(pipeline ? { intake: pipeline.intake } : {}),
  });
  brokerRef.current = broker;
  let ports: BrokerPorts;
  let ops: OpsServer | undefined;
  try {
    privacy?.start();
    await egress?.start();
    const clusterUpstream = cluster && egress?.upstream ? startClusterUpstream({ link: cluster, hub: config.simulators.hub, upstream: egress.upstream, ttlMs: config.cluster.leaseMs, logger }) : undefined;
    // Before the egress stops: the lease goes to another node and this node's outbox is handed over.
    if (clusterUpstream) cleanup.push(() => clusterUpstream.stop());
    // The forwarder's thread loads before devices can connect (a reconnect storm after a restart
    // then does not meet its start-up).
    await pipeline?.boot();
    ports = await broker.start();
    pipeline?.start();
    if (opts.ops) ops = await startRoleOps(config, logger, 'broker', config.http.rolePorts.broker, r.metrics, [...nodeChecks(broker, pipeline), ...(cluster ? [cluster.readinessCheck()] : []), ...(clusterUpstream ? [clusterUpstream.readinessCheck()] : [])]);
  } catch (e) {
    await broker.stop().catch(() => undefined);
    await undo();
    await cluster?.stop();
    throw e;
  }
  logger.info({ role: 'broker', ports, intake: withIntake, ...(cluster ? { cluster: cluster.nodeId } : {}) }, 'broker listening');
  return {
    name: 'broker',
    broker,
    ports,
    ...(pipeline ? { pipeline } : {}),
    ...(egress?.upstream ? { upstream: egress.upstream } : {}),
    ...(cluster ? { cluster } : {}),
    stop: once(async () => {
      await ops?.close();
      // Stops accepting, commits what the intake holds and sends those PUBACKs, closes clients;
      // then the pipeline forwards what it can and closes the spool.
      await broker.stop();
      for (const f of cleanup.reverse()) await f();
      await cluster?.stop();
      await own?.stop();
    }),
  };
}

/** Readiness of a node: broker up, intake acknowledging, storage reachable. */
export function nodeChecks(broker: Broker, pipeline: Pipeline | undefined): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [{ name: 'broker', check: () => (broker.isUp() ? { ok: true } : { ok: false, detail: 'the MQTT broker is not accepting connections' }) }];
  if (pipeline) checks.push(...pipelineChecks(pipeline));
  return checks;
}

/** Readiness of a durable pipeline: intake acknowledging, storage reachable. */
export function pipelineChecks(pipeline: Pick<Pipeline, 'pressure' | 'storageReachable' | 'spoolDepth'>): ReadinessCheck[] {
  return [
    {
      name: 'intake',
      check: () => {
        const p = pipeline.pressure();
        return p ? { ok: false, detail: `${p.reason}: ${p.message}` } : { ok: true };
      },
    },
    { name: 'storage', check: () => (pipeline.storageReachable() ? { ok: true } : { ok: false, detail: `storage unreachable; ${pipeline.spoolDepth()} readings wait in the spool` }) },
  ];
}

/** /health, /ready and /metrics of a role run alone. */
async function startRoleOps(config: Config, logger: Logger, role: string, port: number, metrics: PipelineMetrics, checks: ReadinessCheck[]): Promise<OpsServer> {
  try {
    return await startOpsServer({ role, host: config.http.host, port, metrics, logger, checks });
  } catch (e) {
    throw new CliError(`${role}: cannot serve /health, /ready and /metrics on ${config.http.host}:${port}: ${(e as Error).message} (set http.rolePorts.${role})`, EXIT.FAILED, { cause: e });
  }
}

/**
 * An ingest worker. Credentials: `opts.credentials` (all-in-one), else `config.ingest.username`
 * with `config.ingest.password` or $STEWARD_INGEST_PASSWORD.
 */
export async function startIngestRole(
  config: Config,
  logger: Logger,
  opts: { shared?: SharedResources; credentials?: { username: string; password: string }; brokerUrl?: string; privacy?: Privacy; onStored?: (records: StoredReading[]) => void; ops?: boolean } = {},
): Promise<RoleHandle & { ingest: Ingest; upstream?: Upstream }> {
  let credentials = opts.credentials;
  if (!credentials) {
    const password = config.ingest.password ?? process.env.STEWARD_INGEST_PASSWORD;
    if (!password)
      throw new CliError(
        `ingest needs the password of the MQTT account "${config.ingest.username}": set ingest.password in the config or STEWARD_INGEST_PASSWORD ` +
          `(create the account with: steward accounts add ${config.ingest.username} --role service)`,
      );
    credentials = { username: config.ingest.username, password };
  }
  const own = opts.shared ? undefined : await openResources(config, logger);
  const r = (opts.shared ?? own!.resources) as SharedResources;
  let privacy: Privacy;
  try {
    privacy = opts.privacy ?? openPrivacy(config, logger, r.metrics);
  } catch (e) {
    await own?.stop();
    throw e;
  }
  const ingestRef: { current?: Ingest } = {};
  const egress = createEgress(config, logger, r.metrics, (t, p, o) => ingestRef.current!.publish(t, p, o), opts.onStored ? { onStored: opts.onStored } : {});
  const ingest = createIngest({
    ...readingPath(config, r, privacy, egress, logger),
    credentials,
    ...(opts.brokerUrl ? { brokerUrl: opts.brokerUrl } : {}),
  });
  ingestRef.current = ingest;
  try {
    privacy.start();
    await egress.start();
    await ingest.start();
  } catch (e) {
    await ingest.stop().catch(() => undefined);
    await egress.stop().catch(() => undefined);
    if (!opts.privacy) privacy.stop();
    await own?.stop();
    throw new CliError(`ingest could not subscribe at ${opts.brokerUrl ?? config.ingest.brokerUrl}: ${(e as Error).message}`, EXIT.FAILED, { cause: e });
  }
  logger.info({ role: 'ingest', broker: opts.brokerUrl ?? config.ingest.brokerUrl }, 'ingest subscribed');
  let ops: OpsServer | undefined;
  if (opts.ops) {
    const checks: ReadinessCheck[] = [{ name: 'broker', check: () => (ingest.connected() ? { ok: true } : { ok: false, detail: `not connected to ${opts.brokerUrl ?? config.ingest.brokerUrl}` }) }, ...pipelineChecks(ingest)];
    try {
      ops = await startRoleOps(config, logger, 'ingest', config.http.rolePorts.ingest, r.metrics, checks);
    } catch (e) {
      await ingest.stop().catch(() => undefined);
      await own?.stop();
      throw e;
    }
  }
  return {
    name: 'ingest',
    ingest,
    ...(egress.upstream ? { upstream: egress.upstream } : {}),
    stop: once(async () => {
      await ops?.close();
      await ingest.stop();
      await egress.stop();
      if (!opts.privacy) privacy.stop();
      await own?.stop();
    }),
  };
}

/** The HTTP API on `config.http.host:port`. */
export async function startApiRole(
  config: Config,
  logger: Logger,
  opts: { shared?: SharedResources; health?: Parameters<typeof startApi>[0]['health']; sensorStatus?: () => Map<string, SensorState>; policy?: PolicySource; services?: ApiServices } = {},
): Promise<RoleHandle & { url: string }> {
  const own = opts.shared ? undefined : await openResources(config, logger);
  const r = (opts.shared ?? own!.resources) as SharedResources;
  let api: Awaited<ReturnType<typeof startApi>>;
  let policy: PolicySource;
  try {
    policy = opts.policy ?? standalonePolicy(config);
  } catch (e) {
    await own?.stop();
    throw new CliError(`privacy policy: ${(e as Error).message}`, EXIT.USAGE, { cause: e });
  }
  try {
    api = await startApi({
      config,
      store: r.store,
      registry: r.registry,
      deadLetters: r.deadLetters,
      metrics: r.metrics,
      logger,
      ...(opts.health ? { health: opts.health } : {}),
      ...(opts.sensorStatus ? { sensorStatus: opts.sensorStatus } : {}),
      services: {
        policy,
        // An API-only process serves the console too (without live updates: no feed in this process).
        console: createConsoleService({ thresholds: thresholdsFromRulesDir(config.rules.paths ?? DEFAULT_RULES_DIR) }),
        ...opts.services,
      },
    });
  } catch (e) {
    await own?.stop();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new CliError(`the API could not listen on ${config.http.host}:${config.http.port}: ${(e as Error).message} (set http.port or STEWARD_HTTP_PORT)`, EXIT.FAILED, { cause: e });
    throw e;
  }
  logger.info({ role: 'api', url: api.url }, 'API listening');
  return {
    name: 'api',
    url: api.url,
    stop: once(async () => {
      await api.close();
      await own?.stop();
    }),
  };
}

/** The API serves the console's page as `npm run build` bundled it: without the bundle the role refuses to start. */
function requireConsoleBundle(): void {
  const index = consoleIndexPath();
  if (!existsSync(index)) throw new CliError(`the console is not built (${index} is missing): run npm run build`, EXIT.FAILED);
}

/** The policy an API-only process explains (it filters nothing itself: storage holds filtered data). */
function standalonePolicy(config: Config): PolicySource {
  const keyring = createKeyring({ keys: config.privacy.keys, env: process.env, dir: resolve(config.dataDir, 'privacy-keys'), generate: config.privacy.generateKeys });
  return fixedPolicy(loadPolicy(config.privacy.policyFile ?? DEFAULT_POLICY_PATH, { keyring }));
}

/** Options of the simulated fleet (command line overrides of `config.simulators`). */
export interface SimOptions {
  hub?: string;
  seed?: number;
  speed?: number;
  scenario?: string;
  /** Overrides `config.simulators.brokerUrl` (all-in-one: the broker's actual port). */
  brokerUrl?: string;
}

/** Real seconds in the config to whole simulated seconds (1..86400) at `speed`. */
const simSeconds = (realS: number, speed: number): number => Math.min(86_400, Math.max(1, Math.round(realS * speed)));

/**
 * The fleet with the config's intervals written into its sensors' configs: `simulators.intervals`
 * for the sensors of those kinds, else `simulators.intervalS` for all (real seconds, so times
 * `speed`). What the config does not set stays the simulator's own interval (its config's
 * `intervalS` default, or what the fleet entry says). A scenario keeps every simulator's own
 * interval (stretched to 2 messages/s per sensor: every 30 simulated minutes at 3600x), so its
 * trends have the evidence the rules ask for within two minutes. A kind no simulator has is an error.
 */
export function withConfigIntervals(fleet: FleetEntry[], sim: Pick<Config['simulators'], 'intervalS' | 'intervals'>, speed: number, scenario?: string): FleetEntry[] {
  for (const kind of Object.keys(sim.intervals)) getSimulator(kind);
  if (scenario && scenario !== 'normal') return fleet;
  return fleet.map((e) => {
    const realS = (Object.hasOwn(sim.intervals, e.kind) ? sim.intervals[e.kind] : undefined) ?? sim.intervalS;
    return realS === undefined ? e : { ...e, config: { ...e.config, intervalS: simSeconds(realS, speed) } };
  });
}

/**
 * The simulated demo fleet, publishing over MQTT like real devices. Registers the fleet's sensors
 * (passwords kept in `<dataDir>/sim-credentials.json`, mode 0600) before connecting.
 */
export async function startSimRole(config: Config, logger: Logger, opts: SimOptions & { shared?: Pick<SharedResources, 'registry' | 'metrics'> } = {}): Promise<RoleHandle & { runner: SimRunner }> {
  const hub = opts.hub ?? config.simulators.hub;
  const scenario = opts.scenario ?? config.simulators.scenario;
  // A scenario plays at accelerated time (one simulated hour per second) unless --speed says otherwise.
  const def = scenario !== undefined && Object.hasOwn(SCENARIOS, scenario) ? SCENARIOS[scenario] : undefined;
  const speed = opts.speed ?? (scenario && scenario !== 'normal' ? Math.max(config.simulators.speed, def?.liveSpeed ?? 3600) : config.simulators.speed);
  let fleet: FleetEntry[];
  let runner: SimRunner;
  try {
    fleet = withConfigIntervals(demoFleet(hub), config.simulators, speed, scenario);
    runner = createSimRunner({
      hub,
      fleet,
      brokerUrl: opts.brokerUrl ?? config.simulators.brokerUrl,
      seed: opts.seed ?? config.simulators.seed,
      speed,
      ...(speed <= 1 && config.simulators.warmupHours > 0 ? { warmupMs: config.simulators.warmupHours * 3_600_000 } : {}),
      // The scenario has been under way for a month when the run starts (a drought already biting), unless it says otherwise.
      ...(scenario ? { scenarioLeadMs: (def?.liveLeadDays ?? 30) * 86_400_000 } : {}),
      ...(scenario !== undefined ? { scenario } : {}),
      // A scenario set in a season (a heatwave in summer) moves the world's calendar there.
      ...(def?.liveSeasonDay !== undefined ? { seasonShiftMs: seasonShiftTo(def.liveSeasonDay, Date.now()) } : {}),
      credentials: (entry) => {
        const c = creds.get(`${hub}.${entry.sensor}`);
        if (!c) throw new Error(`no credentials for simulated sensor ${entry.sensor}`);
        return c;
      },
      logger: logger.child({ role: 'sim' }),
    });
  } catch (e) {
    if (e instanceof SimulatorError) throw new CliError(e.message, EXIT.USAGE, { cause: e });
    throw e;
  }
  const own = opts.shared ? undefined : await openResources(config, logger, { store: false, deadLetters: false });
  const { registry } = opts.shared ?? own!.resources;
  let creds: Map<string, { username: string; password: string }>;
  try {
    creds = await ensureSimCredentials(
      registry,
      config.dataDir,
      fleet.map((f): SimSensorSpec => ({ hub, domain: f.domain, sensor: f.sensor, kind: f.kind, site: f.site })),
    );
    await runner.start();
  } catch (e) {
    await runner.stop().catch(() => undefined);
    await own?.stop();
    throw e;
  }
  logger.info({ role: 'sim', hub, sensors: fleet.length, speed, scenario }, 'simulated fleet publishing');
  return {
    name: 'sim',
    runner,
    stop: once(async () => {
      await runner.stop();
      await own?.stop();
    }),
  };
}

/**
 * Follows device status topics in-process (the broker publishes online/offline, retained) so the
 * API can tell which sensors are connected.
 */
export async function trackSensorStatus(broker: Broker, logger: Logger): Promise<{ states: () => Map<string, SensorState>; stop(): Promise<void> }> {
  const states = new Map<string, SensorState>();
  const unsubscribe = await broker.subscribe(ALL_STATUS_FILTER, (topic, payload) => {
    const t = parseTopic(topic);
    if (t?.type !== 'status') return;
    const key = `${t.hub}.${t.sensor}`;
    if (payload.length === 0) return void states.delete(key);
    try {
      const p = JSON.parse(payload.toString('utf8')) as { state?: unknown; ts?: unknown };
      // The broker stamps its status messages; a device's own may carry no time.
      if (p.state === 'online' || p.state === 'offline') states.set(key, { state: p.state, ts: typeof p.ts === 'number' ? p.ts : Date.now() });
    } catch (err) {
      logger.debug({ err, topic }, 'unreadable status payload');
    }
  });
  return { states: () => states, stop: unsubscribe };
}

/** URLs a newcomer should look at once `steward start` runs, and what the listeners are bound to. */
export function startBanner(config: Config, apiUrl: string, ports: BrokerPorts, withSim: boolean): string {
  const everywhere = (host: string): boolean => host === '0.0.0.0' || host === '::';
  const urlHost = (host: string): string => (everywhere(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host);
  const bind = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const httpPort = Number(new URL(apiUrl).port) || config.http.port;
  const binds = [
    `MQTT ${bind(config.mqtt.host, ports.mqtt)}`,
    `WebSocket ${bind(config.mqtt.host, ports.ws)}`,
    ...(ports.tls ? [`TLS ${bind(config.mqtt.host, ports.tls)}`] : []),
    `HTTP ${bind(config.http.host, httpPort)}`,
  ].join(', ');
  const open = everywhere(config.mqtt.host) || everywhere(config.http.host);
  const mqttHost = urlHost(config.mqtt.host);
  return [
    '',
    `Steward is running: broker with its durable intake, rules, API${withSim ? ' and a simulated fleet' : ''} in one process.`,
    '',
    '  Console           ' + `${apiUrl}/`,
    '  Latest readings   ' + `${apiUrl}/api/v1/readings/latest`,
    '  Alerts            ' + `${apiUrl}/api/v1/alerts`,
    '  Sensors           ' + `${apiUrl}/api/v1/sensors`,
    '  Metrics           ' + `${apiUrl}/metrics`,
    '  API description   ' + `${apiUrl}/openapi.json`,
    '  MQTT              ' + `mqtt://${mqttHost}:${ports.mqtt}`,
    '  MQTT/WebSocket    ' + `ws://${mqttHost}:${ports.ws}`,
    ...(ports.tls ? ['  MQTT/TLS          ' + `mqtts://${mqttHost}:${ports.tls}`] : []),
    ...(config.connectors.sources.length ? ['  Connectors        ' + `${config.connectors.sources.map((s) => `${s.name} (${s.format})`).join(', ')}; webhooks on port ${config.connectors.http.port}`] : []),
    '  Data directory    ' + resolve(config.dataDir),
    '  Listening on      ' + binds + (open ? ' (0.0.0.0: every interface, other machines can connect; set mqtt.host, http.host to 127.0.0.1 to stay local)' : ''),
    '',
    'Register a real sensor with: steward sensors add HUB DOMAIN SENSOR. Stop with Ctrl+C.',
    '',
  ].join('\n');
}

/**
 * All in one process: storage, broker, API, ingest and (unless `sim: false`) the simulated fleet,
 * sharing one registry, store and metrics registry. The ingest service account `ingest` gets a
 * fresh random password at each start. Returns the handles in start order.
 */
export async function startAll(config: Config, logger: Logger, opts: SimOptions & { sim?: boolean } = {}): Promise<{ handles: RoleHandle[]; apiUrl: string; ports: BrokerPorts }> {
  const handles: RoleHandle[] = [];
  try {
    const storage = await openResources(config, logger);
    handles.push(storage);
    const shared = storage.resources as SharedResources;
    const privacy = openPrivacy(config, logger, shared.metrics);
    handles.push({ name: 'privacy', stop: once(async () => privacy.stop()) });
    // The console's live feed: stored (filtered) records and alert transitions.
    const live = createLiveFeed();
    // Rules are loaded (and checked) before anything listens; they start once readings flow.
    const brokerRef: { current?: Broker } = {};
    let rules: RulesEngine | undefined;
    const clustered = Boolean(config.cluster.redis);
    if (config.rules.enabled && !clustered) {
      try {
        rules = await createRules({
          config,
          store: shared.store,
          registry: shared.registry,
          metrics: shared.metrics,
          logger,
          publish: (t, p, o) => (brokerRef.current ? brokerRef.current.publish(t, p, o) : Promise.reject(new Error('the broker is not started'))),
          wrapSink: (sink) => live.alertSink(sink),
        });
      } catch (e) {
        throw new CliError(`rules: ${(e as Error).message}`, EXIT.USAGE, { cause: e });
      }
    }
    // The node: broker with the durable intake in its publish path, and the forwarder to storage.
    // On a cluster the node also serves its own /ready (with the cluster check) on http.rolePorts.broker.
    const node = await startBrokerRole(config, logger, { shared, privacy, onStored: (records) => live.publishReadings(records), storedWanted: () => live.wants(), ops: Boolean(config.cluster.redis) });
    brokerRef.current = node.broker;
    handles.push(node);
    // On a cluster the hub's rules run on the node holding its lease, fed from every node (cluster/rules.ts).
    if (config.rules.enabled && clustered && node.cluster) {
      try {
        const cr = await startClusterRules({
          config,
          link: node.cluster,
          broker: node.broker,
          registry: shared.registry,
          logger,
          publish: (t, p, o) => node.broker.publish(t, p, o),
          makeEngine: (publish) => createRules({ config, store: shared.store, registry: shared.registry, metrics: shared.metrics, logger, publish, wrapSink: (sink) => live.alertSink(sink) }),
        });
        rules = cr.view;
        handles.push({ name: 'rules', stop: once(() => cr.stop()) });
      } catch (e) {
        throw new CliError(`rules: ${(e as Error).message}`, EXIT.USAGE, { cause: e });
      }
    }
    const status = await trackSensorStatus(node.broker, logger);
    handles.push({ name: 'status', stop: once(() => status.stop()) });
    const pipeline = node.pipeline!;
    // The console shows times on the simulated fleet's clock (a scenario replays a month at 3600×).
    let simRunner: SimRunner | undefined;
    const scenario = opts.scenario ?? config.simulators.scenario;
    const clock = (): ConsoleClock | undefined => {
      const st = simRunner?.stats();
      return st && Number.isFinite(st.simTimeMs) ? { now: st.simTimeMs, rate: st.rate, ...(scenario ? { scenario } : {}) } : undefined;
    };
    const api = await startApiRole(config, logger, {
      shared,
      policy: privacy.watcher,
      services: {
        ...(rules ? { alerts: rules } : {}),
        console: createConsoleService({ feed: live, thresholds: thresholdsFromRulesDir(config.rules.paths ?? DEFAULT_RULES_DIR), clock }),
      },
      health: { broker: () => node.broker.isUp(), ingest: () => ({ spoolDepth: pipeline.spoolDepth(), pressure: pipeline.pressure() }) },
      sensorStatus: status.states,
    });
    handles.push(api);
    if (rules && !clustered) {
      const engine = rules;
      const off = pipeline.intake.onReadings((rs) => engine.onReadings(rs));
      engine.start();
      // Stops before the node (no more readings then) only after the simulators; alerts still go out.
      handles.push({
        name: 'rules',
        stop: once(async () => {
          off();
          await engine.stop();
        }),
      });
    }
    // Connectors (LoRaWAN network servers, foreign MQTT fleets) feed the node's intake when configured.
    if (config.connectors.sources.length) {
      const { startConnectRole } = await import('./connectors-role.ts');
      handles.push(await startConnectRole(config, logger, { shared, intake: pipeline.intake }));
    }
    const brokerUrl = `mqtt://127.0.0.1:${node.ports.mqtt}`;
    if (opts.sim !== false) {
      const sim = await startSimRole(config, logger, { ...opts, brokerUrl, shared });
      simRunner = sim.runner;
      handles.push(sim);
    }
    return { handles, apiUrl: api.url, ports: node.ports };
  } catch (e) {
    for (const h of [...handles].reverse()) await h.stop().catch((err: unknown) => logger.error({ err, role: h.name }, 'stop failed'));
    throw e;
  }
}

/**
 * How long a graceful stop may take before the process exits anyway (1). Stopping finishes the
 * commit in flight and hands what the forwarder holds back to the spool; it never waits on
 * storage, so a stop that takes longer than this is stuck (an operator's service manager would
 * kill it later, without a word).
 */
export const SHUTDOWN_DEADLINE_MS = 30_000;

/**
 * Waits for SIGINT or SIGTERM, then stops the roles in reverse order of start, logs, and exits 0
 * (1 if a role failed to stop). A second signal exits 1 at once; so does a stop still running
 * after `deadlineMs` (default {@link SHUTDOWN_DEADLINE_MS}), naming the role it waits for.
 */
export function runUntilSignal(
  handles: RoleHandle[],
  logger: Logger,
  opts: { exit?: (code: number) => void; signals?: NodeJS.Signals[]; deadlineMs?: number } = {},
): Promise<number> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
  const deadlineMs = opts.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
  return new Promise((resolvePromise) => {
    let stopping = false;
    let exited = false;
    let waitingFor: string | undefined;
    const finish = (code: number): void => {
      if (exited) return;
      exited = true;
      for (const s of signals) process.off(s, onSignal);
      resolvePromise(code);
      exit(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        finish(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        logger.error({ role: waitingFor, deadlineMs }, `shutdown did not finish within ${deadlineMs} ms (still stopping ${waitingFor ?? 'the roles'}); exiting. Acknowledged readings are in the spool and are forwarded at the next start`);
        finish(1);
      }, deadlineMs);
      deadline.unref();
      void (async () => {
        let code = 0;
        for (const h of [...handles].reverse()) {
          waitingFor = h.name;
          try {
            await h.stop();
            logger.info({ role: h.name }, 'stopped');
          } catch (err) {
            code = 1;
            logger.error({ err, role: h.name }, 'could not stop cleanly');
          }
          if (exited) return;
        }
        clearTimeout(deadline);
        logger.info({ code }, 'all roles stopped');
        finish(code);
      })();
    };
    for (const s of signals) process.on(s, onSignal);
  });
}

/** Entry point of the role commands (`steward broker|ingest|api|sim|start`). */
/**
 * `steward rules` alone: the engine reads the raw tier with its own service account
 * (`config.rules.username`, password from `rules.password` or $STEWARD_RULES_PASSWORD) and
 * publishes alerts and stores transitions; the API of the all-in-one process serves them.
 */
export async function startRulesRole(config: Config, logger: Logger): Promise<RoleHandle> {
  const password = config.rules.password ?? process.env.STEWARD_RULES_PASSWORD;
  if (!password)
    throw new CliError(
      `rules needs the password of the MQTT account "${config.rules.username}": set rules.password or STEWARD_RULES_PASSWORD (create it with: steward accounts add ${config.rules.username} --role service)`,
    );
  const own = await openResources(config, logger, { deadLetters: false });
  const r = own.resources as SharedResources;
  const ref: { publish?: (t: string, p: string | Buffer, o: { qos: 0 | 1; retain: boolean }) => Promise<void> } = {};
  let engine: RulesEngine;
  try {
    engine = await createRules({ config, store: r.store, registry: r.registry, metrics: r.metrics, logger, publish: (t, p, o) => (ref.publish ? ref.publish(t, p, o) : Promise.reject(new Error('rules are not connected yet'))) });
  } catch (e) {
    await own.stop();
    throw new CliError(`rules: ${(e as Error).message}`, EXIT.USAGE, { cause: e });
  }
  const conn = await subscribeRaw({ config, registry: r.registry, engine, logger, password });
  ref.publish = conn.publish;
  engine.start();
  let ops: OpsServer | undefined;
  try {
    ops = await startRoleOps(config, logger, 'rules', config.http.rolePorts.rules, r.metrics, [
      { name: 'broker', check: () => (conn.connected() ? { ok: true } : { ok: false, detail: `not connected to ${config.rules.brokerUrl}` }) },
      { name: 'storage', check: async () => ((await r.store.ping().catch(() => false)) ? { ok: true } : { ok: false, detail: 'storage does not answer' }) },
    ]);
  } catch (e) {
    await conn.stop();
    await engine.stop();
    await own.stop();
    throw e;
  }
  return {
    name: 'rules',
    stop: once(async () => {
      await ops?.close();
      await conn.stop();
      await engine.stop();
      await own.stop();
    }),
  };
}

export async function runRoleCommand(role: 'broker' | 'ingest' | 'api' | 'sim' | 'start' | 'rules' | 'connect', config: Config, opts: Record<string, unknown>, io: CliIo): Promise<void> {
  const logger = createLogger(config.logLevel);
  const sim: SimOptions = {};
  if (typeof opts.hub === 'string') sim.hub = opts.hub;
  if (typeof opts.seed === 'number') sim.seed = opts.seed;
  if (typeof opts.speed === 'number') sim.speed = opts.speed;
  if (typeof opts.scenario === 'string') sim.scenario = opts.scenario;
  let handles: RoleHandle[];
  switch (role) {
    case 'broker':
      handles = [await startBrokerRole(config, logger, { ops: true })];
      break;
    case 'ingest':
      handles = [await startIngestRole(config, logger, { ops: true })];
      break;
    case 'api':
      requireConsoleBundle();
      handles = [await startApiRole(config, logger)];
      break;
    case 'sim':
      handles = [await startSimRole(config, logger, sim)];
      break;
    case 'rules':
      handles = [await startRulesRole(config, logger)];
      break;
    case 'connect':
      handles = [await (await import('./connectors-role.ts')).startConnectRole(config, logger)];
      break;
    case 'start': {
      requireConsoleBundle();
      const all = await startAll(config, logger, { ...sim, sim: opts.sim !== false });
      handles = all.handles;
      io.out(startBanner(config, all.apiUrl, all.ports, opts.sim !== false));
      break;
    }
  }
  await runUntilSignal(handles, logger);
}
