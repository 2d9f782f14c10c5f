/**
 * Bench role: the Steward ingest worker (createIngest) in its own process, writing to InfluxDB
 * 1.x through the v1 API, with the default privacy filter and a dead-letter store, exactly as
 * `steward ingest` wires it; the store is wrapped in a {@link MeasuringStore} that records
 * publish-to-stored latency for every reading.
 *
 *   BENCH_INGEST_PASSWORD=… node --import tsx bench/roles/ingest.ts --registry-dir DIR \
 *     --data-dir DIR --broker-url mqtt://127.0.0.1:PORT --influx-url http://127.0.0.1:PORT \
 *     --database bench [--batch-size 5000] [--flush-ms 250] [--stats-ms 1000]
 *
 * Prints `{"type":"ready"}` once subscribed, then `{"type":"stats",…}` every `--stats-ms`.
 * Commands: `stats` (stats now), `latency` (latency summaries since the last call, then reset).
 * @module
 */
import { parseConfig } from '../../core/config.ts';
import { createIngest } from '../../ingest/ingest.ts';
import { createDefaultFilter } from '../../privacy/boundary.ts';
import { Registry } from '../../registry/registry.ts';
import { DeadLetterStore } from '../../storage/deadletters.ts';
import { createStore } from '../../storage/index.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { MeasuringStore } from '../lib/measuring-store.ts';
import { forceNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';

forceNoDelay();

const args = roleArgs();
const password = process.env.BENCH_INGEST_PASSWORD;
if (!password) throw new Error('BENCH_INGEST_PASSWORD is not set');
const dataDir = need(args, 'data-dir');
const config = parseConfig({
  dataDir,
  logLevel: 'warn',
  ingest: {
    brokerUrl: need(args, 'broker-url'),
    username: 'ingest',
    clientId: 'bench-ingest',
    ...(args['batch-size'] ? { batchSize: Number(args['batch-size']) } : {}),
    ...(args['flush-ms'] ? { flushIntervalMs: Number(args['flush-ms']) } : {}),
  },
  storage: { influx: { url: need(args, 'influx-url'), database: need(args, 'database'), api: 'v1' } },
});
const logger = roleLogger('ingest');
const metrics = createMetrics();
const registry = Registry.open(need(args, 'registry-dir'));
const deadLetters = new DeadLetterStore(dataDir);
const measured = new MeasuringStore(createStore(config, { logger, metrics }));
const store = measured.store;
const ingest = createIngest({
  config,
  store,
  registry,
  deadLetters,
  privacy: createDefaultFilter(),
  metrics,
  logger,
  credentials: { username: 'ingest', password },
});

let accepted = 0;
ingest.onReadings((rs) => {
  accepted += rs.length;
});

async function stats(): Promise<Record<string, unknown>> {
  const rejected = (await metrics.readingsRejected.get()).values.reduce((n, v) => n + v.value, 0);
  const c = measured.counters;
  return { t: Date.now(), accepted, stored: c.stored, refused: c.refused, rejected, spool: ingest.spoolDepth(), batches: c.batches, failedBatches: c.failedBatches, writeMs: Math.round(c.writeMs), maxWriteMs: Math.round(c.maxWriteMs), connected: ingest.connected() };
}

/** The stats timer (a holder: shutdown may run before it exists). */
const timers: { stats?: NodeJS.Timeout } = {};
serve(
  'ingest',
  async (c) => {
    if (c.cmd === 'stats') reply(c, { type: 'stats', ...(await stats()) });
    else if (c.cmd === 'latency') reply(c, { type: 'latency', ...measured.takeLatency() });
    else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    clearInterval(timers.stats);
    await ingest.stop();
    await store.stop();
    deadLetters.close();
    registry.close();
  },
);

await store.start();
await ingest.start(60_000);
emit({ type: 'ready', pid: process.pid });
timers.stats = setInterval(() => {
  void stats().then((s) => emit({ type: 'stats', ...s }));
}, Number(args['stats-ms'] ?? 1000));
