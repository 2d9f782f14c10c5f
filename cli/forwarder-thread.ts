/**
 * Entry of the forwarder's worker thread (ingest/forwarder-thread.ts): opens, from the config the
 * main thread hands over, the thread's own connections — the spool (read only), the store (the
 * embedded store's one writer: the main thread routes its small writes here), the dead letters —
 * and its own privacy boundary (the same policy file and state under the data dir, reloaded as
 * the main thread's is), then serves the forwarder until the main thread says stop.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { serveForwarder, Spool, type ForwarderThreadData } from '../ingest/index.ts';
import { createStore, DeadLetterStore } from '../storage/index.ts';
import { createLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { openPrivacy } from './privacy.ts';

/** What the main thread hands the entry (see `forwarderThreadData` in cli/roles.ts). */
export interface ForwarderEntryData extends ForwarderThreadData {
  config: Config;
  pretty: boolean;
}

const port = parentPort;
if (!port) throw new Error('cli/forwarder-thread.ts runs as a worker thread');
const data = workerData as ForwarderEntryData;
const { config } = data;
const logger = createLogger(config.logLevel, { pretty: data.pretty }).child({ thread: 'forwarder' });
const metrics = createMetrics();
// The main thread knows the spool's depth (it appends); this thread's count would be stale.
metrics.registry.removeSingleMetric('steward_spool_depth');

const opened: Array<() => Promise<void> | void> = [];
const close = async (): Promise<void> => {
  for (const f of opened.reverse()) await f();
  // Its log lines are written from this thread: out before the main thread ends it.
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
};
try {
  // The embedded store's upkeep runs here, with its one writer (the main thread routes its writes
  // here); InfluxDB's stays with the main thread's store (it keeps what to summarise in memory).
  const store = createStore(config, { logger: logger.child({ role: 'storage' }), metrics, maintenance: !config.storage.influx });
  await store.start();
  opened.push(() => store.stop());
  const deadLetters = new DeadLetterStore(config.dataDir);
  opened.push(() => deadLetters.close());
  const privacy = openPrivacy(config, logger, metrics);
  opened.push(() => privacy.stop());
  privacy.start();
  const spool = new Spool(config.dataDir, { sync: config.ingest.spoolSync });
  opened.push(() => spool.close());
  serveForwarder(port, data, {
    spool,
    store,
    privacy: privacy.boundary,
    deadLetters,
    metrics,
    logger: logger.child({ role: 'ingest' }),
    clock: systemClock,
    batchSize: config.ingest.batchSize,
    flushIntervalMs: config.ingest.flushIntervalMs,
    close,
  });
} catch (e) {
  port.postMessage({ t: 'failed', message: (e as Error).message });
  await close().catch(() => undefined);
  process.exit(1);
}
