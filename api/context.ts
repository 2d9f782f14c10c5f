/**
 * What every route needs (store, registry, metrics, config, clock…), decorated once on the root
 * instance as `fastify.steward` by the `steward-context` plugin, with the services of the other
 * roles (api/services.ts) as `fastify.alerts`, `fastify.policy` and `fastify.console` when given.
 * Routes list it as a dependency.
 */
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import type { ReadingStore } from '../core/store.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { AlertsService, ApiServices, ConsoleService, PolicyService } from './services.ts';

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
   * Services of the other roles (rules engine, privacy policy, console state): each given one
   * brings its routes (alerts and silences; open data and the policy; the console). The roles
   * decide what a process serves.
   */
  services?: ApiServices;
  /** Tuning of the console's event stream (`/api/v1/stream`). */
  stream?: StreamOptions;
}

/** The console's event stream: heartbeat, batching, and limits on clients. */
export interface StreamOptions {
  /** Heartbeat comment interval, ms (default 15 000). */
  heartbeatMs?: number;
  /** Readings are sent in one event per this many ms (default 250). */
  flushMs?: number;
  /** Reconnection delay the browser is told to use, ms (default 2000). */
  retryMs?: number;
  /** Most open streams; more are refused with 503 (default 100). */
  maxClients?: number;
  /** A client this far behind (bytes not yet sent) is disconnected; it reconnects and re-reads (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Most readings queued per client between flushes; beyond, only the newest per series is kept (default 5000). */
  maxQueuedReadings?: number;
}

/** The event stream's settings when not given. */
export const STREAM_DEFAULTS: Readonly<Required<StreamOptions>> = Object.freeze({
  heartbeatMs: 15_000,
  flushMs: 250,
  retryMs: 2000,
  maxClients: 100,
  maxBufferedBytes: 1 << 20,
  maxQueuedReadings: 5000,
});

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
  readonly stream: Required<StreamOptions>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Store, registry, metrics, config and clock of this API instance. */
    steward: ApiContext;
    /** The rules engine's alerts and silences (decorated when the process runs rules). */
    alerts: AlertsService;
    /** The privacy policy in force (decorated when the API serves open data). */
    policy: PolicyService;
    /** The console's live state (decorated when the API serves the console). */
    console: ConsoleService;
  }
}

/** Decorates the root instance with `steward` (the ApiContext) and each service given. */
export const contextPlugin = fp<{ context: ApiContext; services?: ApiServices }>(
  async (app, opts) => {
    app.decorate('steward', opts.context);
    for (const [name, service] of Object.entries(opts.services ?? {})) if (service) app.decorate(name, service);
  },
  { name: 'steward-context' },
);
