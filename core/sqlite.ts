/**
 * How Steward opens a SQLite file for writing (better-sqlite3): the file under its directory
 * (created), in WAL mode, waiting for a lock up to `busyTimeoutMs`, with the durability the caller
 * names, and its schema brought up to date by numbered migrations. In memory when there is no
 * directory (tests).
 *
 * Durability (`synchronous`, in WAL mode): `NORMAL` survives a process crash (kill -9) but a
 * power cut may lose the last commits (the file stays consistent); `FULL` fsyncs every commit, so a
 * commit that returned survives a power cut too. Each store names its level: it is part of what
 * that store promises.
 *
 * Migrations: `migrations[i]` is SQL run once, in order, when the file's `user_version` is `i` or
 * less; `user_version` then records how many ran, in the same transaction. The first one is each
 * store's original `CREATE ... IF NOT EXISTS` schema, so files written before versioning (at
 * `user_version` 0, tables already there) open unchanged. Append a migration, never edit one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

export interface OpenSqliteOptions {
  /** `NORMAL` or `FULL` (see above). */
  synchronous: 'NORMAL' | 'FULL';
  /** How long a statement waits for another connection's lock, ms (default 5000). */
  busyTimeoutMs?: number;
  /** Schema steps, oldest first (see above). */
  migrations?: readonly string[];
}

/**
 * Opens (creating) `<dir>/<file>`, or an in-memory database when `dir` is undefined. Closes the
 * file again and throws when a pragma or a migration fails.
 */
export function openSqlite(dir: string | undefined, file: string, o: OpenSqliteOptions): SqliteDatabase {
  if (dir) mkdirSync(dir, { recursive: true });
  const db = new Database(dir ? join(dir, file) : ':memory:');
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${o.synchronous}`);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(o.busyTimeoutMs ?? 5000))}`);
    if (o.migrations?.length) migrate(db, o.migrations);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Runs the migrations the file has not run yet, in one write transaction (one process at a time;
 * checked again under the lock). An up-to-date file is only read.
 */
function migrate(db: SqliteDatabase, migrations: readonly string[]): void {
  if (Number(db.pragma('user_version', { simple: true })) >= migrations.length) return;
  db.transaction(() => {
    const done = Number(db.pragma('user_version', { simple: true }));
    if (done >= migrations.length) return;
    for (const sql of migrations.slice(done)) db.exec(sql);
    db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
