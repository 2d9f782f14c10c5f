/**
 * The durable pipeline of one node: intake (validate, group-commit to the spool, then acknowledge)
 * and forwarder (spool -> privacy boundary -> storage -> public and upstream publishers). The
 * broker feeds it from its publish path (`steward broker`, `steward start`); the external-broker
 * subscriber feeds it from a foreign broker (`steward ingest`). Either way a message is
 * acknowledged only once the intake has made it durable.
 * @module
 */
import { BOUND_PAGES } from '../core/checkpointer.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { PrivacyFilter } from '../core/privacy-filter.ts';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import type { ReadingStore, StoredReading } from '../core/store.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { Forwarder } from './forwarder.ts';
import { type BatchReport, ForwarderThread, type StoredMode } from './forwarder-thread.ts';
import { Intake, type Pressure, type Rejection } from './intake.ts';
import { Spool } from './spool.ts';

export interface PipelineOptions {
  config: Config;
  store: ReadingStore;
  registry: Registry;
  deadLetters: DeadLetterStore;
  privacy: PrivacyFilter;
  metrics: PipelineMetrics;
  logger: Logger;
  clock?: Clock;
  /** Called with every batch storage took (public MQTT, upstream, the console's live feed). */
  onStored?: (records: StoredReading[]) => void;
  /** Called with each durable rejection (publish it on `csm/v1/{hub}/rejected`). */
  onRejected?: (rejection: Rejection) => void;
  /**
   * Run the forwarder in a worker thread (ingest/forwarder-thread.ts): `entry` opens its own store,
   * privacy boundary, dead letters and spool connection from `data` (the config). `store`,
   * `privacy` and `deadLetters` above then serve the main thread only. Without it the forwarder
   * runs on this thread with those.
   */
  thread?: {
    entry: URL;
    data: Record<string, unknown>;
    /** Which stored records `onStored` gets (see StoredMode). Default: all. */
    storedMode?: () => StoredMode;
    /** Each batch storage took (benchmarks). */
    onBatch?: (report: BatchReport) => void;
  };
}

export interface Pipeline {
  readonly intake: Intake;
  readonly spool: Spool;
  /**
   * Readies the forwarder without starting it: its thread loads and opens its parts (see
   * ForwarderThread.boot). Resolves at once without a thread.
   */
  boot(): Promise<void>;
  /** Starts the forwarder. */
  start(): void;
  /** Commits what the intake holds, forwards what it can (bounded), closes the spool. */
  stop(): Promise<void>;
  spoolDepth(): number;
  /** Did the last storage write succeed? */
  storageReachable(): boolean;
  /** Why acknowledgements are held, if they are. */
  pressure(): Pressure | undefined;
}

export function createPipeline(o: PipelineOptions): Pipeline {
  const cfg = o.config.ingest;
  const clock = o.clock ?? systemClock;
  const log = o.logger.child({ role: 'ingest' });
  // With the forwarder in its thread, that thread checkpoints the spool's log; the intake's
  // commits only do when it grows past ~40 MB (the thread is down).
  const spool = new Spool(o.config.dataDir, { sync: cfg.spoolSync, maxBytes: cfg.spoolMaxBytes, ...(o.thread ? { autoCheckpointPages: BOUND_PAGES } : {}) });
  const forwarder = o.thread
    ? new ForwarderThread({
        entry: o.thread.entry,
        data: o.thread.data,
        spool,
        store: o.store,
        metrics: o.metrics,
        logger: log,
        ...(o.onStored ? { onStored: o.onStored } : {}),
        ...(o.thread.storedMode ? { storedMode: o.thread.storedMode } : {}),
        ...(o.thread.onBatch ? { onBatch: o.thread.onBatch } : {}),
      })
    : new Forwarder({
        spool,
        store: o.store,
        privacy: o.privacy,
        deadLetters: o.deadLetters,
        metrics: o.metrics,
        logger: log,
        clock,
        batchSize: cfg.batchSize,
        flushIntervalMs: cfg.flushIntervalMs,
        ...(o.onStored ? { onStored: o.onStored } : {}),
      });
  const intake = new Intake({
    spool,
    deadLetters: o.deadLetters,
    registry: o.registry,
    metrics: o.metrics,
    logger: log,
    clock,
    config: cfg,
    onBacklog: () => forwarder.poke(),
    backlog: { highWater: cfg.backlogHighWater, flowing: () => forwarder.reachable() },
    ...(o.onRejected ? { onRejected: o.onRejected } : {}),
  });
  const bytes = setInterval(() => o.metrics.spoolBytes.set(spool.sizeBytes()), 5000);
  bytes.unref();
  let stopped: Promise<void> | undefined;
  return {
    intake,
    spool,
    boot: () => (forwarder instanceof ForwarderThread ? forwarder.boot() : Promise.resolve()),
    start: () => forwarder.start(),
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(bytes);
        if (!intake.flush()) log.warn({ waiting: intake.waiting() }, 'stopping with readings the spool could not take; they were not acknowledged and will be resent');
        intake.close();
        await forwarder.stop();
        o.metrics.spoolDepth.set(spool.depth());
        log.info({ spoolDepth: spool.depth() }, 'pipeline stopped; what is left in the spool is forwarded at the next start');
        spool.close();
      })()),
    spoolDepth: () => spool.depth(),
    storageReachable: () => forwarder.reachable(),
    pressure: () => intake.pressure(),
  };
}
