/**
 * Fault-test fleet: real mqtt.js devices publishing numbered readings at QoS 1, one at a time
 * each, like a sensor that buffers until its reading is acknowledged. Each device counts what the
 * broker acknowledged (PUBACK received); the test then counts, per sensor and by sequence number,
 * what storage holds against that, never by eye.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Registry } from '../../registry/registry.ts';
import { spawnSteward, writeConfig, type StewardProcess } from './steward.ts';
import { freePort, startInfluxDB, startRedis, type InfluxHandle, type RedisHandle } from './services.ts';

export interface FleetDevice {
  sensor: string;
  password: string;
}

/** Registers `count` water sensors `w-0..` of hub `demo` in the registry of `dataDir`. */
export async function registerFleet(dataDir: string, count: number): Promise<FleetDevice[]> {
  const registry = Registry.open(dataDir);
  try {
    const out: FleetDevice[] = [];
    for (let i = 0; i < count; i++) {
      const sensor = `w-${i}`;
      const password = `pw-${sensor}-secret-0123456789`;
      await registry.addSensor({ hub: 'demo', domain: 'water', sensor, password });
      out.push({ sensor, password });
    }
    return out;
  } finally {
    registry.close();
  }
}

export interface Fleet {
  /** Epoch ms when the fleet started: its readings carry timestamps from then on. */
  readonly since: number;
  /** Readings acknowledged so far, all sensors. */
  acked(): number;
  /** Node URL each connected device is on now (failover tests). */
  where(): Map<string, string>;
  /** Waits until `n` more readings have been acknowledged (or throws after `ms`). */
  progress(n: number, ms?: number): Promise<void>;
  /** Stops publishing (pending publishes are abandoned) and returns acknowledged counts per sensor. */
  stop(): Promise<Map<string, number>>;
}

/**
 * Connects every device to `urls` (round robin; each device reconnects to its own) and publishes
 * reading `seq` = 0, 1, 2… every `everyMs` once the previous one was acknowledged.
 */
export function startFleet(urls: string[], devices: FleetDevice[], opts: { everyMs: number; t0?: number; failover?: boolean }): Fleet {
  let running = true;
  const since = Date.now();
  const acked = new Map<string, number>();
  let total = 0;
  const clients: MqttClient[] = [];
  /** The last error each device's client saw (for a failure's message). */
  const lastError = new Map<string, string>();
  const loops = devices.map(async (d, i) => {
    const url = urls[i % urls.length]!;
    const username = `demo.${d.sensor}`;
    // clean: false: the device keeps its session and mqtt.js resends unacknowledged publishes.
    // failover: the device knows every node (its own first) and moves to the next when one is gone.
    const servers = opts.failover ? [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)].map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port) })) : undefined;
    const client = mqtt.connect(url, { clientId: username, username, password: d.password, protocolVersion: 4, clean: false, keepalive: 10, reconnectPeriod: 500, connectTimeout: 5000, ...(servers ? { servers } : {}) });
    client.on('error', (err) => lastError.set(d.sensor, err.message));
    clients.push(client);
    const topic = `csm/v1/demo/water/${d.sensor}/data`;
    let seq = 0;
    // Spread the devices over the interval.
    await new Promise((r) => setTimeout(r, (opts.everyMs * i) / devices.length));
    while (running) {
      const payload = JSON.stringify({ ts: Date.now(), seq, metrics: { groundwater_level: 40 + (seq % 100) / 100 } });
      const ok = await new Promise<boolean>((resolve) => {
        client.publish(topic, payload, { qos: 1 }, (err) => resolve(!err));
      });
      if (!running) break;
      if (ok) {
        seq++;
        total++;
        acked.set(d.sensor, seq);
      } else {
        await new Promise((r) => setTimeout(r, 200)); // refused or closed: the device retries the same reading
      }
      await new Promise((r) => setTimeout(r, opts.everyMs));
    }
  });
  return {
    since,
    acked: () => total,
    where: () => {
      const m = new Map<string, string>();
      for (const c of clients) if (c.connected) m.set(c.options.clientId ?? '', `mqtt://${c.options.host}:${c.options.port}`);
      return m;
    },
    async progress(n, ms = 60_000) {
      const target = total + n;
      const until = Date.now() + ms;
      while (total < target) {
        if (Date.now() > until) {
          const connected = clients.filter((c) => c.connected).length;
          const errors = [...new Set(lastError.values())].slice(0, 3).join('; ') || 'none';
          throw new Error(`fleet: only ${total - (target - n)} of ${n} readings acknowledged within ${ms} ms (${connected} of ${clients.length} devices connected; their last errors: ${errors})`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      running = false;
      // A publish waiting for its PUBACK is abandoned: it was never acknowledged, so it is not counted.
      await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      return new Map(acked);
    },
  };
}

/**
 * Per sensor: acknowledged readings (seq < acked) missing from InfluxDB, and points stored more
 * than once (count of points against count of distinct seq).
 */
export async function lossesInInflux(influx: InfluxHandle, acked: Map<string, number>, since: number): Promise<{ lost: number; duplicated: number; perSensor: Record<string, { acked: number; stored: number }> }> {
  let lost = 0;
  let duplicated = 0;
  const perSensor: Record<string, { acked: number; stored: number }> = {};
  for (const [sensor, n] of acked) {
    const rows = await influx.queryRows(`SELECT count("seq") AS c, count(distinct("seq")) AS d FROM "water" WHERE "sensor" = '${sensor}' AND "seq" < ${n} AND time >= ${since}ms`);
    const c = Number(rows[0]?.c ?? 0);
    const d = Number(rows[0]?.d ?? 0);
    lost += n - d;
    duplicated += c - d;
    perSensor[sensor] = { acked: n, stored: d };
  }
  return { lost, duplicated, perSensor };
}

/** Waits until InfluxDB holds every acknowledged reading (or `ms` pass), then returns the count. */
export async function settle(influx: InfluxHandle, acked: Map<string, number>, since: number, ms = 120_000): Promise<Awaited<ReturnType<typeof lossesInInflux>>> {
  const until = Date.now() + ms;
  let previous: string | undefined;
  for (;;) {
    const r = await lossesInInflux(influx, acked, since).catch(() => undefined);
    // Settled: nothing missing, and the same counts twice in a row (a write still landing, e.g. a
    // redelivered reading overwriting its point, can skew one query's two aggregates).
    if (r && r.lost === 0) {
      const now = JSON.stringify(r);
      if (now === previous) return r;
      previous = now;
    } else previous = undefined;
    if (Date.now() > until) return r ?? lossesInInflux(influx, acked, since);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

export interface NodeProcess extends StewardProcess {
  mqttUrl: string;
  opsUrl: string;
}

/** Ports and config of one node, kept across restarts. */
export interface NodeSpec {
  dataDir: string;
  influx: InfluxHandle;
  mqttPort: number;
  /** /health, /ready, /metrics of `steward broker`. */
  opsPort: number;
  /** The same of `steward rules` run alone against this node. */
  rulesOpsPort: number;
  configPath: string;
}

export async function nodeSpec(dataDir: string, influx: InfluxHandle, extra: Record<string, unknown> = {}): Promise<NodeSpec> {
  const mqttPort = await freePort();
  const opsPort = await freePort();
  const rulesOpsPort = await freePort();
  const configPath = writeConfig(dataDir, {
    dataDir,
    mqtt: { host: '127.0.0.1', port: mqttPort, wsPort: await freePort() },
    http: { host: '127.0.0.1', port: await freePort(), rolePorts: { broker: opsPort, ingest: await freePort(), rules: rulesOpsPort } },
    ingest: { flushIntervalMs: 100 },
    rules: { brokerUrl: `mqtt://127.0.0.1:${mqttPort}` },
    storage: { influx: { url: influx.url, database: influx.database, timeoutMs: 2000 } },
    ...extra,
  });
  return { dataDir, influx, mqttPort, opsPort, rulesOpsPort, configPath };
}

/** Starts `steward broker` (the node: broker, intake, spool, forwarder), or `steward start`, and waits until it listens. */
export async function startNode(spec: NodeSpec, role: 'broker' | 'start' = 'broker', args: string[] = []): Promise<NodeProcess> {
  const p = spawnSteward([role, '--config', spec.configPath, ...args], { env: { STEWARD_LOG_LEVEL: 'info' } });
  // `start` runs more roles after the broker (rules, the API): a node that fails in one of them
  // stops its broker again, so wait for the last (a failure then shows the node's output here).
  await p.waitFor(role === 'start' ? /API listening/ : /broker listening/);
  return Object.assign(p, { mqttUrl: `mqtt://127.0.0.1:${spec.mqttPort}`, opsUrl: `http://127.0.0.1:${spec.opsPort}` });
}

/** What a fault test works with: its own InfluxDB, data dir, node config and registered fleet. */
export interface FaultRig {
  dir: string;
  influx: InfluxHandle;
  spec: NodeSpec;
  devices: FleetDevice[];
  /** The node under test; stopped with SIGKILL (and SIGCONT first) after the file. */
  node: NodeProcess | undefined;
}

/**
 * Registers the before/after hooks of a fault test file: a fresh InfluxDB, a temporary data dir
 * (or `dataDir`), a node config on free ports and `devices` registered sensors (default 20).
 */
export function useFaultRig(name: string, opts: { devices?: number; dataDir?: string; extra?: Record<string, unknown>; cleanup?: () => void } = {}): FaultRig {
  const rig = {} as FaultRig;
  beforeAll(async () => {
    rig.dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), `steward-fault-${name}-`));
    rig.influx = await startInfluxDB({ database: 'steward' });
    rig.spec = await nodeSpec(rig.dir, rig.influx, opts.extra);
    rig.devices = await registerFleet(rig.dir, opts.devices ?? 20);
  });
  // A failed test shows what the node said (its log is otherwise only in its process).
  afterEach(({ task }) => {
    if (task.result?.state === 'fail' && rig.node) process.stderr.write(`\n--- ${name}: end of the node's output ---\n${rig.node.output().slice(-6000)}\n`);
  });
  afterAll(async () => {
    rig.node?.proc.kill('SIGCONT');
    await rig.node?.stop('SIGKILL');
    await rig.influx?.stop();
    opts.cleanup?.();
    if (rig.dir) rmSync(rig.dir, { recursive: true, force: true });
  });
  return rig;
}

/** What a cluster fault test works with: one Redis, one InfluxDB, `nodes` node configs and their processes. */
export interface ClusterRig {
  root: string;
  redis: RedisHandle;
  influx: InfluxHandle;
  /** Node i's config (`cluster.nodeId` node-{i+1}), data dir `<root>/node-{i+1}`. */
  specs: NodeSpec[];
  /** The running nodes, in the order of `specs`; all stopped with SIGKILL after the file. */
  nodes: NodeProcess[];
  /** The fleet, registered on node 1 only (the others learn it through Redis). */
  devices: FleetDevice[];
}

/**
 * Registers the before/after hooks of a cluster fault test file: a temporary root, a fresh Redis
 * and InfluxDB, `nodes` node configs in the cluster, `devices` sensors (default none) registered
 * on node 1, then `prepare` (more config or registry entries), then every node started as `role`.
 */
export function useClusterRig(name: string, opts: { nodes: number; devices?: number; role?: 'broker' | 'start'; args?: string[]; prepare?: (rig: ClusterRig) => Promise<void> | void }): ClusterRig {
  const rig = { specs: [] as NodeSpec[], nodes: [] as NodeProcess[], devices: [] as FleetDevice[] } as ClusterRig;
  beforeAll(async () => {
    rig.root = mkdtempSync(join(tmpdir(), `steward-${name}-`));
    [rig.redis, rig.influx] = await Promise.all([startRedis(), startInfluxDB({ database: 'steward' })]);
    for (let i = 1; i <= opts.nodes; i++) {
      const dir = join(rig.root, `node-${i}`);
      mkdirSync(dir);
      rig.specs.push(await nodeSpec(dir, rig.influx, { cluster: { redis: rig.redis.url, nodeId: `node-${i}` } }));
    }
    if (opts.devices) rig.devices = await registerFleet(rig.specs[0]!.dataDir, opts.devices);
    await opts.prepare?.(rig);
    for (const s of rig.specs) rig.nodes.push(await startNode(s, opts.role, opts.args));
  });
  // A failed test shows each node's lease lines and the end of its output.
  afterEach(({ task }) => {
    if (task.result?.state !== 'fail') return;
    rig.nodes.forEach((n, i) => {
      const out = n.output();
      const lease = out.split('\n').filter((l) => /lease|lost|degraded|error/i.test(l)).slice(-40).join('\n');
      process.stderr.write(`\n--- ${name}: node-${i + 1}'s lease lines ---\n${lease}\n--- node-${i + 1}: end of its output ---\n${out.slice(-3000)}\n`);
    });
  });
  afterAll(async () => {
    await Promise.all(rig.nodes.map((n) => n.stop('SIGKILL')));
    await Promise.all([rig.redis?.stop(), rig.influx?.stop()]);
    if (rig.root) rmSync(rig.root, { recursive: true, force: true });
  });
  return rig;
}
