/**
 * The privacy folder's SQLite state files (household groups, learnt names, the upstream outbox):
 * one file under the data dir, created with its directory, in WAL mode, waiting up to 5 s for a
 * lock; in memory when there is no data dir (tests).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Opens a state file.
 * @param synchronous - `NORMAL` where a power cut may lose the last commits (WAL keeps the file
 *   consistent); `FULL` where every commit must be on disk before it returns
 */
export function openStateDb(dataDir: string | undefined, file: string, synchronous: 'NORMAL' | 'FULL'): Database.Database {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = new Database(dataDir ? join(dataDir, file) : ':memory:');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  return db;
}
