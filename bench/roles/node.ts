/**
 * Bench role: a Steward node in its own process, wired by `startBrokerRole` of cli/roles.ts
 * exactly as `steward broker` runs it (Aedes with registry authentication and ACLs, the durable
 * intake in the publish path: validate, group-commit to the SQLite spool, then the PUBACK; the
 * forwarder: spool -> privacy boundary (the default policy) -> storage; public MQTT and the
 * `rejected` topic as configured by default), writing to InfluxDB 1.x through the v1 API. The
 * only difference: the forwarder's thread reports each batch it stored to a
 * {@link MeasuringStore}, which records publish-to-stored latency for every reading (on the main
 * thread, `BENCH_FORWARDER_THREAD=0`, the store itself is wrapped). `/health`,
 * `/ready` and `/metrics` are not served (the bench reads the figures over stdin/stdout).
 *
 *   node --import tsx bench/roles/node.ts --data-dir DIR [--influx-url http://127.0.0.1:PORT \
 *     --database bench] [--port 0] [--max-connections 12000] [--batch-size 5000] \
 *     [--flush-ms 250] [--stats-ms 1000]
 *
 * Without `--influx-url` the node stores into the embedded SQLite store (the storm bench).
 *
 * `--data-dir` holds the registry (registry.db), the spool and the dead letters, as a node's data
 * directory does. Prints `{"type":"ready","ports":…}`, then `{"type":"stats",…}` every
 * `--stats-ms`. Commands: `stats` (stats now), `latency` (latency summaries since the last call,
 * then reset), `clients` (MQTT clients past CONNACK), `profile-start` and `profile-stop`
 * (`{"file":…}`: a V8 CPU profile of what happened in between, written to that file).
 * @module
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { startBrokerRole, type SharedResources } from '../../cli/roles.ts';
import { parseConfig, type Config } from '../../core/config.ts';
import { Registry } from '../../registry/registry.ts';
import { DeadLetterStore } from '../../storage/deadletters.ts';
import { createStore } from '../../storage/index.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { MeasuringStore } from '../lib/measuring-store.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';

const args = roleArgs();
const dataDir = need(args, 'data-dir');
const maxConnections = Number(args['max-connections'] ?? 10_000);
const raw = {
  dataDir,
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
  mqtt: { host: '127.0.0.1', port: Number(args.port ?? 0), wsPort: 0, maxConnections },
  ingest: {
    // BENCH_FORWARDER_THREAD=0: the forwarder on the main thread (A/B runs).
    ...(process.env.BENCH_FORWARDER_THREAD === '0' ? { forwarderThread: false } : {}),
    ...(args['batch-size'] ? { batchSize: Number(args['batch-size']) } : {}),
    ...(args['flush-ms'] ? { flushIntervalMs: Number(args['flush-ms']) } : {}),
  },
  // Without --influx-url: the embedded SQLite store, as a node with no `storage.influx`.
  ...(args['influx-url'] ? { storage: { influx: { url: args['influx-url'], database: need(args, 'database'), api: 'v1' } } } : {}),
};
/**
 * Every bench device connects from 127.0.0.1: where the broker caps connections per source
 * address (`mqtt.maxConnectionsPerAddress`, once that key exists), the cap is raised to the
 * total. A config schema without the key refuses it, and then the node runs without it.
 */
function benchConfig(): Config {
  try {
    return parseConfig({ ...raw, mqtt: { ...raw.mqtt, maxConnectionsPerAddress: maxConnections } });
  } catch (e) {
    if (!(e instanceof Error) || !e.message.includes('maxConnectionsPerAddress')) throw e;
    return parseConfig(raw);
  }
}
const config = benchConfig();
const logger = roleLogger('node');
const metrics = createMetrics({ defaults: true });
const registry = Registry.open(dataDir);
const deadLetters = new DeadLetterStore(dataDir);
const measured = new MeasuringStore(createStore(config, { logger, metrics }));
const store = measured.store;
await store.start();
const shared: SharedResources = { registry, metrics, store, deadLetters };
// The forwarder runs in a worker thread with its own store: it reports each batch it stored.
const role = await startBrokerRole(config, logger, { shared, onForwarded: (b) => measured.recordBatch(b) });
const pipeline = role.pipeline!;

let accepted = 0;
pipeline.intake.onReadings((rs) => {
  accepted += rs.length;
});

async function stats(): Promise<Record<string, unknown>> {
  const rejected = (await metrics.readingsRejected.get()).values.reduce((n, v) => n + v.value, 0);
  const c = measured.counters;
  return {
    t: Date.now(),
    accepted,
    stored: c.stored,
    refused: c.refused,
    rejected,
    spool: pipeline.spoolDepth(),
    batches: c.batches,
    failedBatches: c.failedBatches,
    writeMs: Math.round(c.writeMs),
    maxWriteMs: Math.round(c.maxWriteMs),
    clients: role.broker.connectedClients(),
    pressure: pipeline.pressure()?.reason ?? null,
  };
}

/** A V8 CPU profile of one phase (`profile-start`, `profile-stop` with the file to write). */
const profiler = {
  session: undefined as Session | undefined,
  async start(): Promise<void> {
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 1000 });
    await this.session.post('Profiler.start');
  },
  async stop(file: string): Promise<string> {
    if (!this.session) throw new Error('no profile was started');
    const { profile } = await this.session.post('Profiler.stop');
    this.session.disconnect();
    this.session = undefined;
    writeFileSync(file, JSON.stringify(profile));
    return file;
  },
};

/** The stats timer (a holder: shutdown may run before it exists). */
const timers: { stats?: NodeJS.Timeout } = {};
serve(
  'node',
  async (c) => {
    if (c.cmd === 'stats') reply(c, { type: 'stats', ...(await stats()) });
    else if (c.cmd === 'latency') reply(c, { type: 'latency', ...measured.takeLatency() });
    else if (c.cmd === 'clients') reply(c, { type: 'clients', connected: role.broker.connectedClients() });
    else if (c.cmd === 'profile-start') {
      await profiler.start();
      reply(c, { type: 'profiling' });
    } else if (c.cmd === 'profile-stop') reply(c, { type: 'profile', file: await profiler.stop(String(c.file)) });
    else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    clearInterval(timers.stats);
    await role.stop();
    await store.stop();
    deadLetters.close();
    registry.close();
  },
);

emit({ type: 'ready', pid: process.pid, ports: role.ports });
timers.stats = setInterval(() => {
  void stats().then((s) => emit({ type: 'stats', ...s }));
}, Number(args['stats-ms'] ?? 1000));
