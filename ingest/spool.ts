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

export class Spool {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #take: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #appendMany: (readings: Reading[]) => void;
  readonly #pageSize: number;
  readonly #quotaBytes: number;
  #depth: number;
  /** The directory holding `spool.db`. */
  readonly dir: string;

  /**
   * Opens (creating) `<dataDir>/spool.db`. `maxBytes` (0: none) caps the database file: past it an
   * append throws SQLITE_FULL, as on a full disk, and the intake stops acknowledging.
   */
  constructor(dataDir: string, opts: { sync?: 'normal' | 'full'; maxBytes?: number } = {}) {
    this.dir = dataDir;
    this.#db = openSqlite(dataDir, 'spool.db', {
      synchronous: opts.sync === 'full' ? 'FULL' : 'NORMAL',
      migrations: ['CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, reading TEXT NOT NULL)'],
    });
    this.#pageSize = Number(this.#db.pragma('page_size', { simple: true }));
    this.#quotaBytes = opts.maxBytes ?? 0;
    if (this.#quotaBytes > 0) this.#db.pragma(`max_page_count = ${Math.max(16, Math.floor(this.#quotaBytes / this.#pageSize))}`);
    this.#insert = this.#db.prepare('INSERT INTO spool (reading) VALUES (?)');
    this.#take = this.#db.prepare('SELECT id, reading FROM spool WHERE id > ? ORDER BY id LIMIT ?');
    this.#delete = this.#db.prepare('DELETE FROM spool WHERE id <= ? AND id >= ?');
    this.#appendMany = this.#db.transaction((readings: Reading[]) => {
      for (const r of readings) this.#insert.run(JSON.stringify(r));
    });
    this.#depth = (this.#db.prepare('SELECT COUNT(*) AS n FROM spool').get() as { n: number }).n;
  }

  /** Appends readings in one transaction; when it returns they are durable. Throws on I/O error. */
  append(readings: Reading[]): void {
    this.#appendMany(readings);
    this.#depth += readings.length;
  }

  /** The oldest `limit` readings with an id above `afterId`. */
  take(limit: number, afterId = 0): SpooledReading[] {
    const rows = this.#take.all(afterId, limit) as Array<{ id: number; reading: string }>;
    return rows.map((r) => ({ id: r.id, reading: JSON.parse(r.reading) as Reading }));
  }

  /** Removes readings with ids in [fromId, toId] (a contiguous batch that storage took). */
  remove(fromId: number, toId: number): void {
    const n = this.#delete.run(toId, fromId).changes;
    this.#depth -= n;
  }

  /**
   * Accounts for `n` readings another connection to this spool removed (the forwarder's thread):
   * `depth()` stays the number waiting.
   */
  removedElsewhere(n: number): void {
    this.#depth = Math.max(0, this.#depth - n);
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
    this.#db.close();
  }
}
