/**
 * What every route needs (store, registry, metrics, config, clock…), decorated once on the root
 * instance as `fastify.steward` by the `steward-context` plugin. Routes list it as a dependency.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Registry } from '../registry/registry.ts';
import type { DeadLetterStore } from '../storage/deadletters.ts';
import type { ReadingStore } from '../core/store.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { definePlugin } from './plugin.ts';

/** Connection state of one sensor, from its retained status topic. */
export interface SensorState {
  state: 'online' | 'offline';
  /** Epoch ms of the status message. */
  ts: number;
}

/** Health probes of the other roles in this process; absent = that role does not run here. */
export interface HealthProbes {
  /** Is the broker up (listening and accepting)? */
  broker?: () => boolean;
  /**
   * Ingest state: spool depth (readings not yet in storage) and, while the intake holds
   * acknowledgements (spool quota, full disk), why.
   */
  ingest?: () => { spoolDepth: number; pressure?: { reason: string; message: string } | undefined };
}

/** Options of `buildApp`: everything comes in through them (no singletons). */
export interface ApiOptions {
  config: Config;
  store: ReadingStore;
  /** Dead letters (raw payloads); `/api/v1/rejections` answers 503 without it. */
  deadLetters?: DeadLetterStore;
  registry: Registry;
  metrics: PipelineMetrics;
  logger: Logger;
  health?: HealthProbes;
  /** Sensor states keyed `{hub}.{sensor}`; without it, "online" means data within `onlineWindowMs`. */
  sensorStatus?: () => Map<string, SensorState>;
  clock?: Clock;
  /** A sensor with data this recent counts as online when no status is known, ms (default 15 min). */
  onlineWindowMs?: number;
  /** How long `/ready` waits for `store.ping()`, ms (default 2000). */
  readyTimeoutMs?: number;
  /**
   * Resources of other rooms (privacy, rules, console) mounted inside `/api/v1` or at the root:
   * the API stays independent of them and the roles decide what a process serves.
   */
  extensions?: ApiExtension[];
}

/** A fastify plugin another room contributes, mounted under `/api/v1` (`scope: 'v1'`) or at `/`. */
export interface ApiExtension {
  scope: 'v1' | 'root';
  plugin: FastifyPluginAsync;
}

/** The resolved options as routes see them. */
export interface ApiContext {
  readonly config: Config;
  readonly store: ReadingStore;
  readonly deadLetters: DeadLetterStore | undefined;
  readonly registry: Registry;
  readonly metrics: PipelineMetrics;
  readonly health: HealthProbes;
  readonly sensorStatus: (() => Map<string, SensorState>) | undefined;
  readonly clock: Clock;
  readonly onlineWindowMs: number;
  readonly readyTimeoutMs: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Store, registry, metrics, config and clock of this API instance. */
    steward: ApiContext;
  }
}

/** Decorates the root instance with `steward` (the ApiContext). */
export const contextPlugin = definePlugin<{ context: ApiContext }>(
  async (app, opts) => {
    app.decorate('steward', opts.context);
  },
  { name: 'steward-context' },
  { shared: true },
);
