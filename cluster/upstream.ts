/**
 * The regional upstream publisher of a hub on a cluster: one node at a time connects to the
 * region, the holder of the hub's upstream lease (./lease.ts); the region sees one client per hub,
 * whichever node a device is on.
 *
 * - **Every node** keeps its own durable outbox (egress/upstream.ts). A node that does not hold
 *   the lease hands its rows over to the Redis stream `steward:upstream:{hub}` (XADD in one
 *   MULTI per batch) and deletes them once Redis took them; while Redis is away they stay in its
 *   outbox and the hand-over resumes when it is back.
 * - **The holder** reads the stream (blocking XREAD on its own connection), writes the rows into
 *   its own outbox (durable), then trims what it read from the stream, and sends its outbox to
 *   the region. It dies between the two: the next holder reads those rows again (sent twice, at
 *   least once as everywhere upstream).
 * - **Failover.** A holder that dies is replaced within the lease's ttl; its own outbox is handed
 *   over when it comes back. A holder that cannot renew (Redis down) gives the lease up before it
 *   expires and disconnects from the region first, so two nodes never publish for one hub.
 * @module
 */
import type { Redis } from 'ioredis';
import type { OutboxRow, Upstream, UpstreamHandover } from '../egress/index.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ReadinessCheck } from '../telemetry/ops.ts';
import { createLease, type Lease } from './lease.ts';
import { KEY_PREFIX, type ClusterLink } from './redis.ts';

export const upstreamStreamKey = (hub: string): string => `${KEY_PREFIX}upstream:${hub}`;
export const upstreamLeaseKey = (hub: string): string => `${KEY_PREFIX}lease:upstream:${hub}`;

/** Most entries the stream keeps (approximately: Redis trims whole nodes); the outboxes bound the rest. */
const STREAM_MAX = 1_000_000;
/** Rows read per XREAD. */
const BATCH = 500;

/** A follower's hand-over: the rows appended to the hub's stream, all or none (MULTI). */
export function streamHandover(redis: Redis, hub: string): UpstreamHandover {
  const key = upstreamStreamKey(hub);
  return async (rows) => {
    const tx = redis.multi();
    for (const r of rows) tx.xadd(key, 'MAXLEN', '~', STREAM_MAX, '*', 'topic', r.topic, 'payload', r.payload, 'qos', String(r.qos), 'retain', r.retain ? '1' : '0');
    const res = await tx.exec();
    if (!res) throw new Error('the hand-over transaction was aborted');
    for (const [err] of res) if (err) throw err;
  };
}

/** The stream entry id just after `id` ("ms-seq"): XTRIM MINID with it removes `id` and everything before. */
function after(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

function toRow(fields: Buffer[]): OutboxRow | undefined {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
  const topic = f.get('topic')?.toString();
  const payload = f.get('payload');
  if (!topic || !payload) return undefined;
  return { topic, payload, qos: Number(f.get('qos')?.toString() ?? '1'), retain: f.get('retain')?.toString() === '1' };
}

export interface ClusterUpstreamOptions {
  link: ClusterLink;
  hub: string;
  /** The node's upstream, created with {@link streamHandover} as its `handover`. */
  upstream: Upstream;
  /** Lease ttl, ms (`cluster.leaseMs`). */
  ttlMs: number;
  logger: Logger;
}

export interface ClusterUpstream {
  /** Whether this node runs the hub's upstream now. */
  leading(): boolean;
  readinessCheck(): ReadinessCheck;
  /** Releases the lease (another node takes over at once) and hands this node's outbox over. */
  stop(): Promise<void>;
}

export function startClusterUpstream(o: ClusterUpstreamOptions): ClusterUpstream {
  const log = o.logger.child({ component: 'cluster-upstream', hub: o.hub });
  const key = upstreamStreamKey(o.hub);
  // Blocking reads need a connection of their own.
  const reader = o.link.subscriber();
  // The holding being served; a read loop of an earlier holding stops at its next step.
  let holding = 0;
  let loop: Promise<void> = Promise.resolve();

  const consume = async (mine: number): Promise<void> => {
    const consuming = (): boolean => holding === mine;
    let last = '0-0';
    let warned = false;
    while (consuming()) {
      try {
        const res = (await reader.xreadBuffer('COUNT', BATCH, 'BLOCK', 1000, 'STREAMS', key, last)) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
        // The lease went while this read waited: the rows stay in the stream for the next holder.
        if (!consuming()) break;
        const entries = res?.[0]?.[1] ?? [];
        if (!entries.length) continue;
        const rows = entries.map(([, fields]) => toRow(fields)).filter((r): r is OutboxRow => r !== undefined);
        // Durable in this node's outbox first, then gone from the stream.
        o.upstream.accept(rows);
        last = entries[entries.length - 1]![0].toString();
        await o.link.redis.xtrim(key, 'MINID', after(last));
        if (warned) log.info('reading the hand-over stream again');
        warned = false;
      } catch (err) {
        if (!consuming()) break;
        if (!warned) log.warn({ err: (err as Error).message }, 'cannot read the hand-over stream; retrying');
        warned = true;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  const lease: Lease = createLease({
    redis: o.link.redis,
    key: upstreamLeaseKey(o.hub),
    nodeId: o.link.nodeId,
    ttlMs: o.ttlMs,
    logger: log,
    onAcquire: (epoch) => {
      o.upstream.lead();
      loop = consume(++holding);
      log.info({ epoch, node: o.link.nodeId }, 'upstream publisher of the hub runs on this node (lease holder)');
    },
    onLose: async (reason) => {
      holding++;
      // A read blocked on an unreachable Redis is not waited for: the region connection goes now.
      await Promise.race([loop, new Promise((r) => setTimeout(r, 1500).unref())]);
      await o.upstream.follow();
      log.warn({ reason }, 'upstream publisher stopped on this node; its messages are handed over');
    },
  });
  lease.start();

  return {
    leading: () => lease.held(),
    readinessCheck: () => ({ name: 'upstream', check: () => ({ ok: true, detail: lease.held() ? `the upstream publisher of hub ${o.hub} runs on this node` : `standby: another node runs the upstream publisher of hub ${o.hub}` }) }),
    async stop() {
      await lease.stop();
    },
  };
}
