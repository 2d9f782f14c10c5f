/**
 * A lease in Redis: at most one node holds it at a time, for the rules engine and the upstream
 * publisher of a hub.
 *
 * - Taken with `SET key token NX PX ttl`; renewed every ttl/3 by a script that extends it only
 *   if the key still holds this node's token (a holder whose lease expired and was taken cannot
 *   renew it back).
 * - Every acquisition increments `key:epoch`: the fencing number a holder's writes carry.
 * - The holder measures its own validity from the moment it *sent* each successful SET or renewal
 *   (monotonic clock). When it cannot renew (Redis down, partitioned, frozen) it gives the lease
 *   up by itself `guardMs` before that validity ends, so it has stopped before anyone else can
 *   take the key: never two holders, whatever Redis' state.
 * - A holder that dies is replaced within ttl + one tick.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../telemetry/log.ts';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Sets KEYS[2] to ARGV[2] only while KEYS[1] (the lease) holds ARGV[1] (the holder's token). */
const FENCED_SET = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[2], ARGV[2]) return 1 else return 0 end`;

export interface LeaseOptions {
  redis: Redis;
  /** The Redis key, e.g. `steward:lease:rules:demo`. */
  key: string;
  nodeId: string;
  ttlMs: number;
  logger: Logger;
  /** Called once the lease is held (awaited before the next renewal). */
  onAcquire(epoch: number): Promise<void> | void;
  /** Called when the lease is lost or given up (awaited). */
  onLose(reason: string): Promise<void> | void;
  /** Monotonic clock, ms (tests). */
  now?: () => number;
}

export interface Lease {
  /** Starts trying to acquire (and then renewing). */
  start(): void;
  /** Stops, calls onLose if held, and releases the key so another node takes over at once. */
  stop(): Promise<void>;
  held(): boolean;
  /** The fencing number of the current holding (0 when not held). */
  epoch(): number;
  /**
   * Writes `value` at `key` only while this node still holds the lease (the fencing check, in
   * one Redis script). False when the lease is not held; throws when Redis cannot be reached.
   */
  fencedSet(key: string, value: string | Buffer): Promise<boolean>;
}

export function createLease(o: LeaseOptions): Lease {
  const now = o.now ?? (() => performance.now());
  const token = `${o.nodeId}:${randomBytes(8).toString('hex')}`;
  const log = o.logger.child({ component: 'lease', lease: o.key });
  const tickMs = Math.max(200, Math.floor(o.ttlMs / 6));
  const guardMs = Math.max(1000, Math.floor(o.ttlMs / 5));
  let held = false;
  let losing = false;
  let epoch = 0;
  let validUntil = 0;
  let lastRenewAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let busy: Promise<void> = Promise.resolve();

  const lose = async (reason: string): Promise<void> => {
    if (!held || losing) return;
    losing = true;
    log.warn({ reason }, 'lease given up');
    // Still `held` while the holder winds down: its last fenced writes pass if the key is still its own.
    try {
      await o.onLose(reason);
    } finally {
      held = false;
      epoch = 0;
      losing = false;
    }
  };

  const tick = async (): Promise<void> => {
    const sentAt = now();
    if (held) {
      if (sentAt >= validUntil - guardMs) return lose('could not renew before the lease ends');
      if (sentAt - lastRenewAt < o.ttlMs / 3) return;
      try {
        const r = (await o.redis.eval(RENEW, 1, o.key, token, String(o.ttlMs))) as number;
        if (r === 1) {
          validUntil = sentAt + o.ttlMs;
          lastRenewAt = sentAt;
        } else await lose('taken by another node');
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'lease renewal failed; retrying');
        if (now() >= validUntil - guardMs) await lose('could not renew before the lease ends');
      }
      return;
    }
    try {
      const ok = await o.redis.set(o.key, token, 'PX', o.ttlMs, 'NX');
      if (ok !== 'OK') return;
      validUntil = sentAt + o.ttlMs;
      lastRenewAt = sentAt;
      epoch = await o.redis.incr(`${o.key}:epoch`);
      held = true;
      log.info({ epoch }, 'lease acquired');
      try {
        await o.onAcquire(epoch);
      } catch (err) {
        // Holding a lease without doing its work would stop the work everywhere: give it back.
        log.error({ err }, 'could not start the work of the lease; releasing it');
        await lose('could not start').catch(() => undefined);
        await o.redis.eval(RELEASE, 1, o.key, token).catch(() => undefined);
      }
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'lease not acquired');
    }
  };

  const schedule = (): void => {
    if (!running) return;
    timer = setTimeout(() => {
      busy = tick()
        .catch((err: unknown) => log.error({ err }, 'lease tick failed'))
        .finally(schedule);
    }, tickMs);
    timer.unref?.();
  };

  return {
    start() {
      if (running) return;
      running = true;
      busy = tick()
        .catch((err: unknown) => log.error({ err }, 'lease tick failed'))
        .finally(schedule);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await busy;
      if (!held) return;
      await lose('node stopping');
      await o.redis.eval(RELEASE, 1, o.key, token).catch(() => undefined);
    },
    held: () => held && !losing && now() < validUntil - guardMs,
    epoch: () => epoch,
    async fencedSet(key, value) {
      if (!held) return false;
      return ((await o.redis.eval(FENCED_SET, 2, o.key, key, token, value)) as number) === 1;
    },
  };
}
