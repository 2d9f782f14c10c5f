/**
 * Storage entry point: picks the store the config asks for. The embedded store (SQLite under the
 * data dir) unless `storage.influx` (or `INFLUX_URL`) is set; then InfluxDB through the v1 or v2
 * write API, with InfluxQL reads.
 */
import type { Config } from '../core/config.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { createEmbeddedStore } from './embedded.ts';
import { createInfluxStore } from './influx.ts';
import type { ReadingStore } from '../core/store.ts';

export { createEmbeddedStore, EmbeddedStore, type EmbeddedStoreOptions } from './embedded.ts';
export { createInfluxStore, InfluxStore, type InfluxStoreOptions } from './influx.ts';
export { StorageError, STORAGE_ERROR_CODES, type StorageErrorCode } from './errors.ts';
export { DEFAULT_AGGREGATE_RETENTION, RESOLUTION_MS, RESOLUTIONS, type AggregateRetention } from './aggregates.ts';

export interface CreateStoreOptions {
  logger: Logger;
  metrics?: PipelineMetrics;
  /** HTTP client for the InfluxDB store (default: global fetch). */
  fetch?: typeof fetch;
  /** Embedded store: retention in days (default `storage.retentionDays`, 30). */
  retentionDays?: number;
  /** Embedded store: time source for retention. */
  clock?: Clock;
  /**
   * Retention and downsampling on a timer (default true). False for a store that only writes
   * readings beside the process's main store (the forwarder's thread).
   */
  maintenance?: boolean;
}

/**
 * Builds the store the config selects; call `start()` on it before use.
 *
 * @param config - the validated config (`dataDir`, `storage.influx`)
 * @param opts - logger, metrics, and store-specific options
 */
export function createStore(config: Config, opts: CreateStoreOptions): ReadingStore {
  const influx = config.storage.influx;
  const { hourlyDays, dailyDays, intervalMs } = config.storage.aggregates;
  const aggregates = { hourlyDays, dailyDays };
  if (influx) {
    const o: Parameters<typeof createInfluxStore>[1] = { logger: opts.logger, aggregates, downsampleIntervalMs: opts.maintenance === false ? 0 : intervalMs };
    if (opts.metrics) o.metrics = opts.metrics;
    if (opts.fetch) o.fetch = opts.fetch;
    return createInfluxStore(influx, o);
  }
  const o: Parameters<typeof createEmbeddedStore>[0] = { dataDir: config.dataDir, logger: opts.logger, aggregates, downsampleIntervalMs: intervalMs, maintenance: opts.maintenance !== false };
  if (opts.metrics) o.metrics = opts.metrics;
  o.retentionDays = opts.retentionDays ?? config.storage.retentionDays;
  if (opts.clock) o.clock = opts.clock;
  return createEmbeddedStore(o);
}
export { DeadLetterStore, type DeadLetterQuery } from './deadletters.ts';
export { EVALUATIONS_MEASUREMENT, alertsToPoints, evaluationsToPoints, pipelineToPoints, toLine, toPoint } from './lineprotocol.ts';
