/**
 * A node's link to the cluster's Redis: the Aedes persistence (aedes-persistence-redis: sessions,
 * retained messages, subscriptions), the Aedes emitter (mqemitter-redis: messages routed between
 * nodes) and one connection for the lease, the registry mirror and the rules state.
 *
 * Redis is never in the way of a device's acknowledgement: the intake commits to the local spool
 * before the PUBACK, and this emitter never makes a publish wait for, or fail on, Redis. While
 * Redis is unreachable a message is delivered on this node only (other nodes miss it; the raw
 * feed is best effort anyway, the spool holds every reading) and nothing is sent to Redis for the
 * broker's internal sink topic at all. See README "Scale out".
 * @module
 */
import type { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { AedesOptions } from 'aedes';
import { Redis, type RedisOptions } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import persistenceRedis from 'aedes-persistence-redis';
import { SINK_TOPIC } from '../broker/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ReadinessCheck } from '../telemetry/ops.ts';

/** Prefix of Steward's own keys (Aedes' keys are its own: `client:`, `retained`, `packet:`…). */
export const KEY_PREFIX = 'steward:';

/** The running link. */
export interface ClusterLink {
  readonly nodeId: string;
  /** For Steward's own keys: fails fast (no offline queue) while Redis is unreachable. */
  readonly redis: Redis;
  /** A new subscriber connection (pub/sub needs its own); closed by `stop()`. */
  subscriber(): Redis;
  /** Aedes options: persistence, emitter and broker id. */
  readonly aedes: Required<Pick<AedesOptions, 'persistence' | 'mq' | 'id'>>;
  /** All connections to Redis are ready. */
  up(): boolean;
  /** /ready: fails with "cluster degraded" while Redis is unreachable. */
  readinessCheck(): ReadinessCheck;
  /** Messages delivered on this node only because Redis was unreachable. */
  localOnly(): number;
  /** Closes the Steward connections (Aedes closes its own when the broker stops). */
  stop(): Promise<void>;
}

/** The node id: `cluster.nodeId`, else host name and MQTT port. */
export function nodeIdOf(config: Config): string {
  return config.cluster.nodeId ?? `${hostname()}-${config.mqtt.port}`;
}

/** Reconnects every 100 ms … 1 s, for ever. */
const retryStrategy = (attempt: number): number => Math.min(100 * attempt, 1000);

/**
 * Opens the connections (in the background: an unreachable Redis is reported by `up()` and the
 * readiness check, not thrown). Needs `config.cluster.redis`.
 */
export function connectCluster(config: Config, logger: Logger): ClusterLink {
  const url = config.cluster.redis;
  if (!url) throw new Error('connectCluster needs cluster.redis');
  const nodeId = nodeIdOf(config);
  const log = logger.child({ component: 'cluster', node: nodeId });
  const conns: Redis[] = [];
  const open = (name: string, o: RedisOptions): Redis => {
    const c = new Redis(url, { retryStrategy, connectionName: `steward-${nodeId}-${name}`, ...o });
    // ioredis reports every failed reconnection; the state change is logged once below.
    c.on('error', (err: Error) => log.debug({ err: err.message, conn: name }, 'redis connection error'));
    c.on('ready', onChange);
    c.on('close', onChange);
    conns.push(c);
    return c;
  };
  let wasUp: boolean | undefined;
  let downSince = 0;
  const up = (): boolean => conns.every((c) => c.status === 'ready');
  function onChange(): void {
    const now = up();
    if (now === wasUp) return;
    // Connections come up one by one at start: not an outage.
    if (!now && wasUp === undefined) {
      downSince ||= Date.now();
      return;
    }
    if (now) {
      if (wasUp === false) log.warn({ downMs: Date.now() - downSince }, 'cluster recovered: Redis reachable again');
      else log.info({ redis: redact(url!) }, 'cluster link up');
    } else if (wasUp !== false) {
      downSince = Date.now();
      log.warn({ redis: redact(url!) }, 'cluster degraded: Redis unreachable; readings are still accepted and spooled on this node');
    }
    wasUp = now;
  }

  // Steward's own commands fail fast instead of queueing behind an outage, and time out on a frozen Redis.
  const redis = open('steward', { enableOfflineQueue: false, commandTimeout: 2000, maxRetriesPerRequest: 1 });
  // Aedes' persistence queues while Redis is away (sessions and retained messages are written late, not lost).
  const persistConn = open('persistence', { maxRetriesPerRequest: null });
  const pubConn = open('pub', { enableOfflineQueue: false, commandTimeout: 2000, maxRetriesPerRequest: 1 });
  const subConn = open('sub', { maxRetriesPerRequest: null });

  const mq = new (MQEmitterRedis as unknown as new (o: object) => MqLike)({ pubConn, subConn });
  // mqemitter-redis re-emits connection errors on `state`; unheard, they would crash the process.
  mq.state.on('error', (err: Error) => log.debug({ err: err.message }, 'redis emitter error'));
  let localOnly = 0;
  const remoteEmit = mq.emit.bind(mq);
  const localEmit = mq._emit.bind(mq);
  // Never let Redis hold or fail a publish: a device's message was acknowledged already.
  mq.emit = (msg, done) => {
    const cb = done ?? noop;
    // The broker's sink (readings the intake took care of): nobody subscribes, no need to cross nodes.
    if (msg.topic === SINK_TOPIC) return localEmit(msg, cb);
    if (pubConn.status !== 'ready') {
      localOnly++;
      return localEmit(msg, cb);
    }
    remoteEmit(msg, (err?: Error) => {
      if (!err) return cb();
      localOnly++;
      log.debug({ err: err.message, topic: msg.topic }, 'message delivered on this node only');
      localEmit(msg, cb);
    });
  };
  const persistence = persistenceRedis({ conn: persistConn }) as AedesOptions['persistence'];
  const extra: Redis[] = [];
  return {
    nodeId,
    redis,
    subscriber() {
      const s = open(`sub-${extra.length + 1}`, { maxRetriesPerRequest: null });
      extra.push(s);
      return s;
    },
    aedes: { persistence: persistence!, mq: mq as unknown as NonNullable<AedesOptions['mq']>, id: nodeId },
    up,
    localOnly: () => localOnly,
    readinessCheck: () => ({
      name: 'cluster',
      check: () => (up() ? { ok: true } : { ok: false, detail: `cluster degraded: Redis at ${redact(url)} unreachable since ${new Date(downSince).toISOString()}; readings are accepted and spooled here, rules run only under a valid lease` }),
    }),
    async stop() {
      // After the broker stopped (Aedes closed its emitter): the rest.
      for (const c of conns) {
        if (c.status === 'end') continue;
        c.removeAllListeners('close');
        c.removeAllListeners('ready');
        await c.quit().catch(() => c.disconnect());
      }
    },
  };
}

interface MqLike {
  state: EventEmitter;
  emit(msg: { topic: string }, done?: (err?: Error) => void): void;
  _emit(msg: { topic: string }, done: (err?: Error) => void): void;
}

/** The URL without its password, for logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function noop(): void {}
