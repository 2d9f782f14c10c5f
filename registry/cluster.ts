/**
 * The device registry shared by the nodes of a cluster: each node keeps its own `registry.db`
 * (so authentication and the intake never wait for Redis, and keep working while it is away) and
 * this mirror keeps the files of all nodes equal through Redis.
 *
 * - **Out.** A node watches its own file (SQLite `data_version`, every `pollMs`, default 200 ms):
 *   whoever wrote it (`steward sensors add|remove`, `steward accounts add`, `steward tokens add|revoke`, the node itself), the
 *   rows that changed are copied whole (password hashes included; nothing in clear) into the
 *   Redis hash `steward:registry`, a removed row as a tombstone, and announced on the channel of
 *   the same name.
 * - **In.** Every node applies what is announced at once, and reads the whole hash at start, on
 *   every reconnection and every 30 s (so nothing missed during an outage stays missed). The
 *   Registry class reads its file at every CONNECT and refreshes its sensor cache when the file
 *   changes, so a device added on one node can connect on any other within a fraction of a second,
 *   and a removed one is refused everywhere as fast.
 * - **Conflicts.** The newest write wins (`created_at` of a row, `at` of a tombstone); a node that
 *   was apart while a device was removed drops its copy when it comes back, and rows added on a
 *   node while Redis was away are pushed when it returns.
 *
 * The `sensors`, `accounts`, `api_tokens` and `sensor_euis` (DevEUI links of the connectors)
 * tables are mirrored, row by row, whatever their columns, and the key of the keyed hashes (one
 * for the whole cluster). A row without `created_at` (a DevEUI link) has no time of its own: the
 * last one announced wins, and a removal wins over it.
 * @module
 */
import type { Redis } from 'ioredis';
import { openSqlite } from '../core/sqlite.ts';
import type { Logger } from '../telemetry/log.ts';
import { Registry } from './registry.ts';

export const REGISTRY_KEY = 'steward:registry';
/** The cluster's key of generated device secrets and API tokens (registry table meta). */
const KEY_KEY = 'steward:registry:secret-key';
const TABLES = { sensors: ['hub', 'sensor'], accounts: ['name'], api_tokens: ['name'], sensor_euis: ['eui'] } as const;
type Table = keyof typeof TABLES;
type Row = Record<string, unknown> & { created_at?: number };
/** When a row was made (ms); 0 for a table without `created_at`. */
const timeOf = (r: Row): number => (typeof r.created_at === 'number' ? r.created_at : 0);
interface Entry {
  /** Absent: a tombstone. */
  row?: Row;
  /** When the change was made (ms): a row's created_at (0 without one), a removal's time. */
  at: number;
}

export interface RegistryMirror {
  /** Resolves once the first full exchange with Redis is done (or failed: it is retried). */
  readonly ready: Promise<void>;
  /** Rows pushed and applied so far (metrics, tests). */
  stats(): { pushed: number; applied: number };
  stop(): Promise<void>;
}

export function startRegistryMirror(o: { dataDir: string; redis: Redis; subscriber: Redis; logger: Logger; pollMs?: number; resyncMs?: number }): RegistryMirror {
  const log = o.logger.child({ component: 'registry-mirror' });
  // Make sure the file and its tables exist, then keep a connection of our own.
  Registry.open(o.dataDir).close();
  const db = openSqlite(o.dataDir, 'registry.db', { synchronous: 'FULL' });
  const columns = new Map<Table, Set<string>>();
  for (const t of Object.keys(TABLES) as Table[]) columns.set(t, new Set((db.pragma(`table_info(${t})`) as Array<{ name: string }>).map((c) => c.name)));

  const fieldOf = (t: Table, row: Record<string, unknown>): string => [t, ...TABLES[t].map((k) => String(row[k]))].join('|');
  const readLocal = (): Map<string, Row> => {
    const m = new Map<string, Row>();
    for (const t of Object.keys(TABLES) as Table[]) for (const r of db.prepare(`SELECT * FROM ${t}`).all() as Row[]) m.set(fieldOf(t, r), r);
    return m;
  };
  /** field -> JSON of the row as last exchanged with Redis. */
  const known = new Map<string, string>();
  let version = -1;
  let dirty = true;
  let pushed = 0;
  let applied = 0;
  let stopped = false;

  const applyEntry = (field: string, e: Entry, local: Map<string, Row>): void => {
    const [t, ...key] = field.split('|') as [Table, ...string[]];
    if (!TABLES[t]) return;
    const mine = local.get(field);
    const where = TABLES[t].map((k) => `${k} = ?`).join(' AND ');
    if (!e.row) {
      // A removal: wins over a row older than it.
      if (mine && timeOf(mine) <= e.at) {
        db.prepare(`DELETE FROM ${t} WHERE ${where}`).run(...key);
        local.delete(field);
        applied++;
      }
      known.delete(field);
      return;
    }
    const json = JSON.stringify(e.row);
    if (mine && JSON.stringify(mine) === json) {
      known.set(field, json);
      return;
    }
    // The row as we last exchanged it, gone here since: removed on this node, its tombstone not
    // pushed yet. A late copy (our own announcement coming back) must not bring it back.
    if (!mine && known.get(field) === json) return;
    if (mine && timeOf(mine) > timeOf(e.row)) return; // ours is newer: pushed by the next sync
    const cols = Object.keys(e.row).filter((c) => columns.get(t)!.has(c));
    db.prepare(`INSERT OR REPLACE INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => e.row![c] as string | number | null));
    local.set(field, e.row);
    known.set(field, json);
    applied++;
  };

  /** Pushes local changes (rows that differ from `known`, and removals). */
  const push = async (): Promise<void> => {
    const local = readLocal();
    const changes: Array<[string, Entry]> = [];
    for (const [f, r] of local) if (known.get(f) !== JSON.stringify(r)) changes.push([f, { row: r, at: timeOf(r) }]);
    for (const f of known.keys()) if (!local.has(f)) changes.push([f, { at: Date.now() }]);
    if (!changes.length) return;
    const multi = o.redis.multi();
    for (const [f, e] of changes) multi.hset(REGISTRY_KEY, f, JSON.stringify(e));
    for (const [f] of changes) multi.publish(REGISTRY_KEY, f);
    await multi.exec();
    for (const [f, e] of changes) {
      if (e.row) known.set(f, JSON.stringify(e.row));
      else known.delete(f);
    }
    pushed += changes.length;
    log.info({ changes: changes.map(([f, e]) => `${e.row ? 'set' : 'removed'} ${f}`) }, 'registry changes shared with the cluster');
  };

  /**
   * One key for the keyed hashes of generated secrets in every node: the first node's key is the
   * cluster's (SET NX), and every node adopts it into its own file, so a device added on one node
   * verifies on all. (A secret generated on a node before it joined a cluster with another key
   * must be generated again: `steward sensors add` replaces it.)
   */
  const adoptKey = async (): Promise<void> => {
    const mine = (db.prepare("SELECT value FROM meta WHERE key = 'secret_hmac_key'").get() as { value: Buffer } | undefined)?.value;
    if (mine) await o.redis.set(KEY_KEY, mine.toString('base64'), 'NX');
    const theirs = await o.redis.get(KEY_KEY);
    if (theirs && (!mine || theirs !== mine.toString('base64'))) {
      db.prepare("INSERT INTO meta (key, value) VALUES ('secret_hmac_key', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(Buffer.from(theirs, 'base64'));
      log.info('adopted the cluster key of generated secrets');
    }
  };

  /** Full exchange: apply what Redis has (newest wins), then push what only we have. */
  const sync = async (): Promise<void> => {
    await adoptKey();
    const all = await o.redis.hgetall(REGISTRY_KEY);
    const local = readLocal();
    for (const [f, v] of Object.entries(all)) {
      try {
        applyEntry(f, JSON.parse(v) as Entry, local);
      } catch (err) {
        log.warn({ err: (err as Error).message, field: f }, 'unreadable registry entry in Redis; skipped');
      }
    }
    // Rows only we have (or newer here) go out; rows removed elsewhere are gone from `local` by now.
    for (const [f, r] of local) {
      const theirs = all[f];
      if (theirs === undefined) known.delete(f);
      else if (JSON.stringify(r) !== known.get(f)) known.delete(f);
    }
    await push();
    version = db.pragma('data_version', { simple: true }) as number;
    dirty = false;
  };

  let syncing = false;
  const tick = async (full: boolean): Promise<void> => {
    if (syncing || stopped) return;
    syncing = true;
    try {
      if (full) return await sync();
      const v = db.pragma('data_version', { simple: true }) as number;
      if (v !== version || dirty) {
        version = v;
        dirty = true;
        await push();
        dirty = false;
      }
    } catch (err) {
      dirty = true;
      log.debug({ err: (err as Error).message }, 'registry not exchanged with the cluster; retrying');
    } finally {
      syncing = false;
    }
  };

  o.subscriber.on('message', (channel: string, field: string) => {
    if (channel !== REGISTRY_KEY || stopped) return;
    void o.redis
      .hget(REGISTRY_KEY, field)
      .then((v) => {
        if (v === null) return;
        // (Not touching `version`: what this connection writes does not change data_version, and
        // a change another connection made since the last tick must still be pushed.)
        applyEntry(field, JSON.parse(v) as Entry, readLocal());
      })
      .catch((err: unknown) => log.debug({ err: (err as Error).message }, 'registry change not applied; the next full sync will'));
  });
  void o.subscriber.subscribe(REGISTRY_KEY).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cannot follow registry changes yet'));
  o.subscriber.on('ready', () => void tick(true));
  o.redis.on('ready', () => void tick(true));

  let first: () => void = () => undefined;
  const ready = new Promise<void>((r) => (first = r));
  void tick(true).finally(first);
  const poll = setInterval(() => void tick(false), o.pollMs ?? 200);
  const resync = setInterval(() => void tick(true), o.resyncMs ?? 30_000);
  return {
    ready,
    stats: () => ({ pushed, applied }),
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearInterval(resync);
      // A change made just before the stop still goes out.
      syncing = false;
      stopped = false;
      await tick(false);
      stopped = true;
      db.close();
    },
  };
}
