/**
 * The hub lease (cluster/lease.ts) against a real Redis: two nodes compete and exactly one holds
 * it; only the holder's fenced writes pass; when Redis stops, the holder gives the lease up by
 * itself before it could have expired (so no second holder can ever overlap it); when Redis
 * returns, a node holds it again under a higher fencing number; a stopping holder releases it
 * and the other node takes over at once.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLease, type Lease } from '../../cluster/lease.ts';
import { startRedis, type RedisHandle } from '../harness/services.ts';

const TTL = 3000;
const logger = pino({ level: 'silent' });

async function until<T>(what: string, get: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the hub lease on a real Redis', () => {
  let redis: RedisHandle;
  const conns: Redis[] = [];
  const events: Array<{ node: string; what: 'acquire' | 'lose'; at: number; epoch?: number; reason?: string }> = [];
  const leases: Lease[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    for (const node of ['a', 'b']) {
      const conn = new Redis(redis.url, { enableOfflineQueue: false, commandTimeout: 500, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
      conn.on('error', () => undefined);
      conns.push(conn);
      leases.push(
        createLease({
          redis: conn,
          key: 'steward:lease:test',
          nodeId: node,
          ttlMs: TTL,
          logger,
          onAcquire: (epoch) => void events.push({ node, what: 'acquire', at: Date.now(), epoch }),
          onLose: (reason) => void events.push({ node, what: 'lose', at: Date.now(), reason }),
        }),
      );
    }
  });
  afterAll(async () => {
    for (const l of leases) await l.stop();
    for (const c of conns) c.disconnect();
    await redis?.stop();
  });

  it('one holder at a time, fenced writes, gives up before expiry when Redis is gone, and comes back', async () => {
    for (const l of leases) l.start();
    await until('a node holds the lease', () => (leases.some((l) => l.held()) ? true : undefined), 5000);
    const holder = leases.findIndex((l) => l.held());
    const other = 1 - holder;
    // Several renewal periods later, still exactly one holder.
    await new Promise((r) => setTimeout(r, TTL * 1.5));
    expect(leases.map((l) => l.held())).toEqual(holder === 0 ? [true, false] : [false, true]);
    expect(await leases[holder]!.fencedSet('steward:test:state', 'from the holder')).toBe(true);
    expect(await leases[other]!.fencedSet('steward:test:state', 'from the other')).toBe(false);
    expect(await conns[holder]!.get('steward:test:state')).toBe('from the holder');
    const firstEpoch = events.find((e) => e.what === 'acquire')!.epoch!;

    await redis.pause();
    const pausedAt = Date.now();
    const lost = await until('the holder gives up', () => events.find((e) => e.what === 'lose'), TTL * 2);
    // It stopped before the lease could have expired in Redis (at most TTL after the last renewal, itself before the pause).
    expect(lost.at - pausedAt).toBeLessThan(TTL);
    expect(lost.reason).toMatch(/could not renew/);
    expect(leases.some((l) => l.held())).toBe(false);

    await redis.resume();
    const again = await until('a node holds the lease again', () => events.filter((e) => e.what === 'acquire')[1], 15_000);
    expect(again.epoch).toBeGreaterThan(firstEpoch);

    // A stopping holder releases the key: the other node takes over within a tick, not a TTL.
    const nowHolder = leases.findIndex((l) => l.held());
    const stoppedAt = Date.now();
    await leases[nowHolder]!.stop();
    const third = await until('the other node takes over', () => events.filter((e) => e.what === 'acquire')[2], TTL);
    expect(third.node).toBe(nowHolder === 0 ? 'b' : 'a');
    expect(third.at - stoppedAt).toBeLessThan(TTL);
  });
});
