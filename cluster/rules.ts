/**
 * The rules engine on a cluster: it runs on exactly one node at a time, the holder of the rules
 * lease (./lease.ts), for every hub of the cluster, fed with the readings of every node. One
 * engine for all hubs, as on a single node (subjects, windows and alerts are keyed by hub inside
 * it): every hub's rules run on exactly one node, and a hub whose node is not its "own" still
 * gets its rules. (Spreading hubs over several holders, a lease each, is left for when one node's
 * share of rules work is measured to matter.)
 *
 * - **Feed.** Every node republishes each committed reading on its raw topic (QoS 0); through the
 *   Redis emitter that copy reaches every node, so the holder subscribes in-process to
 *   `csm/v1/+/+/+/data` and sees the readings of all nodes and hubs.
 * - **State.** The engine keeps its alert state in `rules.db` (rules/state.ts). The holder ships
 *   a snapshot of that file to Redis (`steward:rules:state`) whenever it changes, with the
 *   lease's fencing check (a node that lost the lease cannot overwrite it), and always right
 *   before and right after an alert is published. The next holder writes the snapshot back into
 *   its own state dir before it opens the engine: alerts, their deliveries, silences, last-seen
 *   times and detections come back as after a restart, windows are rebuilt from storage. A firing
 *   alert is therefore not forgotten, and one already notified is not notified again.
 * - **Not holding.** A node that does not hold the lease keeps a standby engine (loaded from the
 *   last snapshot, not started: no schedules, no readings, no notifications) so its API can show
 *   the alerts; acknowledging or silencing must go through the holder's API.
 * @module
 */
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Broker } from '../broker/index.ts';
import type { Config } from '../core/config.ts';
import { validateMessage } from '../ingest/index.ts';
import type { Registry } from '../registry/index.ts';
import type { RulesEngine } from '../rules/index.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ReadinessCheck } from '../telemetry/ops.ts';
import { createLease, type Lease } from './lease.ts';
import { KEY_PREFIX, type ClusterLink } from './redis.ts';

export type PublishFn = (topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>;

export interface ClusterRulesOptions {
  config: Config;
  link: ClusterLink;
  broker: Broker;
  registry: Registry;
  logger: Logger;
  /** Builds and initialises an engine publishing through the given function (createRules). */
  makeEngine(publish: PublishFn): Promise<RulesEngine>;
  /** Where alerts are published (the broker). */
  publish: PublishFn;
}

export interface ClusterRules {
  /** The engine the API shows: the running one on the holder, the standby elsewhere. */
  engine(): RulesEngine | undefined;
  /** An engine-shaped object that always forwards to `engine()` (for the API, wired once). */
  readonly view: RulesEngine;
  holding(): boolean;
  readinessCheck(): ReadinessCheck;
  stop(): Promise<void>;
}

export const RULES_LEASE_KEY = `${KEY_PREFIX}lease:rules`;
export const RULES_STATE_KEY = `${KEY_PREFIX}rules:state`;

export async function startClusterRules(o: ClusterRulesOptions): Promise<ClusterRules> {
  const log = o.logger.child({ component: 'cluster-rules' });
  const stateDir = join(o.config.dataDir, 'rules');
  const dbPath = join(stateDir, 'rules.db');
  const stateKey = RULES_STATE_KEY;
  let current: RulesEngine | undefined;
  let running = false;
  let stopping = false;
  let unsubscribe: (() => Promise<void>) | undefined;
  let shipTimer: NodeJS.Timeout | undefined;
  let reader: Database.Database | undefined;
  let shippedVersion = -1;
  let shipping: Promise<boolean> = Promise.resolve(true);

  /** Restores the last snapshot from Redis into the state dir (best effort: keeps the local file when Redis has none or is down). */
  const restore = async (): Promise<void> => {
    let snap: Buffer | null;
    try {
      snap = await o.link.redis.getBuffer(stateKey);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'alert state snapshot not readable from Redis; using the local state');
      return;
    }
    if (!snap) return;
    const tmp = `${dbPath}.restore`;
    writeFileSync(tmp, snap);
    for (const f of [`${dbPath}-wal`, `${dbPath}-shm`]) rmSync(f, { force: true });
    renameSync(tmp, dbPath);
    log.info({ bytes: snap.length }, 'alert state restored from the cluster');
  };

  /** Ships the state file to Redis if it changed, under the fencing check. */
  const shipNow = async (): Promise<boolean> => {
    if (!existsSync(dbPath)) return true;
    reader ??= new Database(dbPath, { readonly: true, fileMustExist: true });
    const v = reader.pragma('data_version', { simple: true }) as number;
    if (v === shippedVersion) return true;
    const snap = reader.serialize();
    const ok = await lease.fencedSet(stateKey, snap);
    if (ok) shippedVersion = v;
    return ok;
  };
  const ship = (): Promise<boolean> => (shipping = shipping.then(shipNow, shipNow));

  // Alerts go out only once their state is in Redis (not forgotten if this node dies now), and the
  // delivery is recorded there right after (not notified again by the next holder).
  const fencedPublish: PublishFn = async (topic, payload, opts) => {
    if (!(await ship())) throw new Error('not the rules lease holder: alert not published');
    await o.publish(topic, payload, opts);
    setTimeout(() => void ship().catch(() => undefined), 0);
  };

  const makeStandby = async (): Promise<void> => {
    try {
      current = await o.makeEngine(() => Promise.reject(new Error('standby rules engine: this node does not hold the lease')));
    } catch (err) {
      log.error({ err }, 'standby rules engine could not be loaded');
    }
  };

  const lease: Lease = createLease({
    redis: o.link.redis,
    key: RULES_LEASE_KEY,
    nodeId: o.link.nodeId,
    ttlMs: o.config.cluster.leaseMs,
    logger: log,
    onAcquire: async (epoch) => {
      await current?.stop();
      current = undefined;
      reader?.close();
      reader = undefined;
      shippedVersion = -1;
      await restore();
      const engine = await o.makeEngine(fencedPublish);
      current = engine;
      unsubscribe = await o.broker.subscribe('csm/v1/+/+/+/data', (topic, payload) => {
        // The readings the receiving node kept from these bytes; refused ones are its business.
        const v = validateMessage(topic, payload, { registry: o.registry, config: o.config.ingest, now: Date.now() });
        if (Array.isArray(v)) engine.onReadings(v);
      });
      engine.start();
      running = true;
      shipTimer = setInterval(() => void ship().catch((err: unknown) => log.debug({ err: (err as Error).message }, 'alert state not shipped')), 1000);
      log.info({ epoch, node: o.link.nodeId }, 'rules engine running on this node (lease holder)');
    },
    onLose: async (reason) => {
      running = false;
      clearInterval(shipTimer);
      await unsubscribe?.().catch(() => undefined);
      unsubscribe = undefined;
      await current?.stop().catch((err: unknown) => log.error({ err }, 'rules engine did not stop cleanly'));
      // The last state goes to Redis while the lease is still ours (refused by the fencing check otherwise).
      await ship().catch(() => undefined);
      current = undefined;
      reader?.close();
      reader = undefined;
      log.warn({ reason }, 'rules engine stopped on this node');
      if (!stopping) await makeStandby();
    },
  });

  await restore().catch(() => undefined);
  await makeStandby();
  lease.start();

  const view = forwardingView(() => current, 'the rules engine');

  return {
    engine: () => current,
    view,
    holding: () => running && lease.held(),
    readinessCheck: () => ({ name: 'rules', check: () => ({ ok: true, detail: running ? `the cluster's rules run on this node (lease epoch ${lease.epoch()})` : 'standby: another node holds the rules lease' }) }),
    async stop() {
      // The holder stops its engine, ships the last state and releases the lease: another node takes over at once.
      stopping = true;
      await lease.stop();
      if (current) await current.stop().catch(() => undefined);
      current = undefined;
      reader?.close();
    },
  };
}

/**
 * An object shaped like the value `current()` returns that forwards each method call to whatever
 * `current()` is at the time of the call, so it can be wired once (into the API) while the value
 * behind it is replaced (standby ↔ holder). Reading a method never throws, even in the instant
 * between two values (a lease hand-over); calling one then fails with a clear error. Properties
 * the value does not have (fastify's `getter`/`setter` probe, `then`) read as undefined.
 */
export function forwardingView<T extends object>(current: () => T | undefined, what: string): T {
  let shape: T | undefined;
  return new Proxy({} as T, {
    get(_t, prop) {
      const now = current();
      if (now) shape = now;
      const probe = shape as Record<string | symbol, unknown> | undefined;
      if (typeof prop !== 'string' || typeof probe?.[prop] !== 'function') {
        return now ? (now as Record<string | symbol, unknown>)[prop] : undefined;
      }
      return (...args: unknown[]): unknown => {
        const e = current() as Record<string, unknown> | undefined;
        if (!e) throw new Error(`${what} is not loaded on this node (it is being handed over); try again`);
        return (e[prop] as (...a: unknown[]) => unknown).apply(e, args);
      };
    },
  });
}
