/**
 * The durable local spool (raw tier). Ingest appends each validated reading here before it
 * acknowledges the MQTT message, so a crash of ingest or an outage of storage loses nothing; the
 * forwarder drains it to storage in batches and deletes what storage has taken.
 *
 * SQLite in WAL mode: with `synchronous=NORMAL` a commit survives a process crash (kill -9);
 * `full` also survives power loss at the cost of an fsync per commit.
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../core/sqlite.ts';
import type { Reading } from '../core/reading.ts';

export interface SpooledReading {
  id: number;
  reading: Reading;
}

/**
 * Ids of forwarded rows each append deletes in its own commit (see Spool.release): twice the rows
 * it appends, at least 256, while few wait; 2,000 once more than 5,000 wait. A fixed 2,000 made the
 * commit after each forwarded batch 1.5–2 ms longer than the others at 5,000 readings/s, on the
 * main thread, in the way of the alerts its rules raise. Small slices alone slowed the closed loop
 * (0.83–0.94 × the relay against 0.94–1.08 ×), where forwarded rows pile up faster.
 */
const PURGE_MIN_PER_APPEND = 256;
const PURGE_MAX_PER_APPEND = 2000;
const PURGE_PILED_UP = 5000;
/** Rows per multi-row INSERT. */
const INSERT_CHUNK = 64;

export class Spool {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  /** Inserts {@link INSERT_CHUNK} rows in one statement (fewer calls into SQLite per commit). */
  readonly #insertChunk: Database.Statement;
  readonly #take: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #appendMany: (readings: Reading[]) => void;
  readonly #pageSize: number;
  readonly #quotaBytes: number;
  #depth: number;
  /** Id ranges forwarded by another connection, not yet deleted (see release()). */
  readonly #released: Array<[number, number]> = [];
  /** Ids in `#released`. */
  #releasedIds = 0;
  #lastAppendAt = 0;
  /** The directory holding `spool.db`. */
  readonly dir: string;

  /**
   * Opens (creating) `<dataDir>/spool.db`. `maxBytes` (0: none) caps the database file: past it an
   * append throws SQLITE_FULL, as on a full disk, and the intake stops acknowledging.
   */
  constructor(dataDir: string, opts: { sync?: 'normal' | 'full'; maxBytes?: number; autoCheckpointPages?: number } = {}) {
    this.dir = dataDir;
    this.#db = openSqlite(dataDir, 'spool.db', {
      synchronous: opts.sync === 'full' ? 'FULL' : 'NORMAL',
      migrations: ['CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, reading TEXT NOT NULL)'],
    });
    this.#pageSize = Number(this.#db.pragma('page_size', { simple: true }));
    // WAL checkpoints (copying committed pages into the file, with an fsync) run in the commit that
    // crosses the threshold; the forwarder's thread checkpoints its own connection so that the
    // intake's commits rarely do (see checkpoint()).
    if (opts.autoCheckpointPages !== undefined) this.#db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(opts.autoCheckpointPages))}`);
    this.#quotaBytes = opts.maxBytes ?? 0;
    if (this.#quotaBytes > 0) this.#db.pragma(`max_page_count = ${Math.max(16, Math.floor(this.#quotaBytes / this.#pageSize))}`);
    this.#insert = this.#db.prepare('INSERT INTO spool (reading) VALUES (?)');
    this.#insertChunk = this.#db.prepare(`INSERT INTO spool (reading) VALUES ${Array.from({ length: INSERT_CHUNK }, () => '(?)').join(',')}`);
    this.#take = this.#db.prepare('SELECT id, reading FROM spool WHERE id > ? ORDER BY id LIMIT ?');
    this.#delete = this.#db.prepare('DELETE FROM spool WHERE id <= ? AND id >= ?');
    this.#appendMany = this.#db.transaction((readings: Reading[]) => {
      let i = 0;
      if (readings.length >= INSERT_CHUNK) {
        const rows = new Array<string>(INSERT_CHUNK);
        for (; i + INSERT_CHUNK <= readings.length; i += INSERT_CHUNK) {
          for (let j = 0; j < INSERT_CHUNK; j++) rows[j] = JSON.stringify(readings[i + j]);
          this.#insertChunk.run(rows);
        }
      }
      for (; i < readings.length; i++) this.#insert.run(JSON.stringify(readings[i]));
      // Forwarded rows go in the same commit, a slice at a time (see release()).
      this.#purgeSome(this.#releasedIds > PURGE_PILED_UP ? PURGE_MAX_PER_APPEND : Math.max(PURGE_MIN_PER_APPEND, readings.length * 2));
    });
    this.#depth = (this.#db.prepare('SELECT COUNT(*) AS n FROM spool').get() as { n: number }).n;
  }

  /** Appends readings in one transaction; when it returns they are durable. Throws on I/O error. */
  append(readings: Reading[]): void {
    this.#lastAppendAt = Date.now();
    this.#appendMany(readings);
    this.#depth += readings.length;
  }

  /** The oldest `limit` readings with an id above `afterId`. */
  take(limit: number, afterId = 0): SpooledReading[] {
    const rows = this.#take.all(afterId, limit) as Array<{ id: number; reading: string }>;
    return rows.map((r) => ({ id: r.id, reading: JSON.parse(r.reading) as Reading }));
  }

  /**
   * Removes readings with ids in [fromId, toId] (a contiguous batch that storage took). `count`,
   * the rows of that batch, is for readers that only tell the writer (the forwarder's thread).
   */
  remove(fromId: number, toId: number, _count?: number): void {
    const n = this.#delete.run(toId, fromId).changes;
    this.#depth -= n;
  }

  /**
   * Marks the `n` readings with ids in [fromId, toId] as forwarded by another connection (the
   * forwarder's thread, which only reads): they no longer count in `depth()`, and this connection
   * — the spool's only writer, so that the intake's commits never wait for another's lock —
   * deletes them a slice at a time with its next appends, or in `purge()`. Rows not yet deleted
   * when the process dies are forwarded again after the restart, which storage takes idempotently.
   */
  release(fromId: number, toId: number, n: number): void {
    this.#released.push([fromId, toId]);
    this.#releasedIds += toId - fromId + 1;
    this.#depth = Math.max(0, this.#depth - n);
  }

  /**
   * Copies what the write-ahead log holds into the database file, without waiting for or blocking
   * the writer (a passive checkpoint). The forwarder's thread calls it on its own connection.
   */
  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** When `append` last ran (epoch ms; 0: never). */
  lastAppendAt(): number {
    return this.#lastAppendAt;
  }

  /** Are released rows waiting to be deleted? */
  hasReleased(): boolean {
    return this.#releasedIds > 0;
  }

  /** Ids of released rows not yet deleted (a bound on their number). */
  releasedIds(): number {
    return this.#releasedIds;
  }

  /** Deletes released rows now, at most `limit` ids of them (default: all). */
  purge(limit = Number.POSITIVE_INFINITY): void {
    if (this.#released.length === 0) return;
    this.#db.transaction(() => this.#purgeSome(limit))();
  }

  #purgeSome(limit: number): void {
    let left = limit;
    while (left > 0 && this.#released.length > 0) {
      const head = this.#released[0]!;
      const [from, to] = head;
      const upTo = Math.min(to, from + left - 1);
      this.#delete.run(upTo, from);
      left -= upTo - from + 1;
      this.#releasedIds -= upTo - from + 1;
      if (upTo === to) this.#released.shift();
      else head[0] = upTo + 1;
    }
  }

  /** Size of the database file, bytes (pages in use or free for reuse). */
  sizeBytes(): number {
    return Number(this.#db.pragma('page_count', { simple: true })) * this.#pageSize;
  }

  /** The configured cap, bytes (0: none). */
  quotaBytes(): number {
    return this.#quotaBytes;
  }

  /** Readings waiting for storage. */
  depth(): number {
    return this.#depth;
  }

  close(): void {
    try {
      this.purge();
    } catch {
      // Rows left are forwarded again at the next start (idempotently).
    }
    this.#db.close();
  }
}
