/**
 * Dead letters: every message ingest refused, kept with its reason and raw payload (raw tier:
 * technicians only). Stored in SQLite under the data dir, next to the spool.
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../core/sqlite.ts';
import type { RejectionCode } from '../core/errors.ts';

export interface DeadLetter {
  id: number;
  /** Epoch ms when it was refused. */
  receivedAt: number;
  topic: string;
  hub?: string;
  sensor?: string;
  code: RejectionCode;
  reason: string;
  /** The payload as received: UTF-8 text when it decodes, else base64 with `payloadEncoding: 'base64'`. */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
}

export interface DeadLetterQuery {
  hub?: string;
  code?: string;
  /** Only ids below this (paging backwards). */
  before?: number;
  limit?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Keeps at most `maxRows` dead letters (oldest dropped first, counted in metrics by the caller). */
export class DeadLetterStore {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #maxRows: number;
  #sinceTrim = 0;

  constructor(dataDir: string, opts: { maxRows?: number; readonly?: boolean } = {}) {
    // FULL (SQLite's default, which this file has always had): a dead letter is on disk before the
    // message it keeps is acknowledged.
    this.#db = openSqlite(dataDir, 'deadletters.db', {
      synchronous: 'FULL',
      migrations: [
        `CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, topic TEXT NOT NULL,
      hub TEXT, sensor TEXT, code TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS dead_letters_hub ON dead_letters (hub, id);`,
      ],
    });
    this.#insert = this.#db.prepare('INSERT INTO dead_letters (received_at, topic, hub, sensor, code, reason, payload) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#maxRows = opts.maxRows ?? 100_000;
  }

  /** Stores one dead letter synchronously (durable before the message is acknowledged). */
  add(d: { receivedAt: number; topic: string; hub?: string | undefined; sensor?: string | undefined; code: RejectionCode; reason: string; payload: Uint8Array }): number {
    const r = this.#insert.run(d.receivedAt, d.topic, d.hub ?? null, d.sensor ?? null, d.code, d.reason, Buffer.from(d.payload));
    if (++this.#sinceTrim >= 1000) {
      this.#sinceTrim = 0;
      this.#db.prepare('DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?').run(this.#maxRows);
    }
    return Number(r.lastInsertRowid);
  }

  /** Stores several dead letters in one transaction (durable when it returns). Throws on I/O error. */
  addMany(items: ReadonlyArray<Parameters<DeadLetterStore['add']>[0]>): void {
    this.#db.transaction(() => {
      for (const d of items) this.add(d);
    })();
  }

  list(q: DeadLetterQuery = {}): DeadLetter[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const cond = (sql: string, v: unknown): void => {
      where.push(sql);
      args.push(v);
    };
    if (q.hub) cond('hub = ?', q.hub);
    if (q.code) cond('code = ?', q.code);
    if (q.before) cond('id < ?', q.before);
    const sql = `SELECT * FROM dead_letters ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    args.push(Math.min(q.limit ?? 100, 1000));
    const rows = this.#db.prepare(sql).all(...args) as Array<{ id: number; received_at: number; topic: string; hub: string | null; sensor: string | null; code: string; reason: string; payload: Buffer }>;
    return rows.map((r) => {
      let payload: string;
      let payloadEncoding: 'utf8' | 'base64' = 'utf8';
      try {
        payload = utf8.decode(r.payload);
      } catch {
        payload = r.payload.toString('base64');
        payloadEncoding = 'base64';
      }
      const d: DeadLetter = { id: r.id, receivedAt: r.received_at, topic: r.topic, code: r.code as RejectionCode, reason: r.reason, payload, payloadEncoding };
      if (r.hub) d.hub = r.hub;
      if (r.sensor) d.sensor = r.sensor;
      return d;
    });
  }

  count(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM dead_letters').get() as { n: number }).n;
  }

  close(): void {
    this.#db.close();
  }
}
