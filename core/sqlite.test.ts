import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteDatabase } from './sqlite.ts';

let root: string;
const open: SqliteDatabase[] = [];
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'steward-sqlite-'));
});
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(root, { recursive: true, force: true });
});
const track = (db: SqliteDatabase): SqliteDatabase => (open.push(db), db);

describe('openSqlite', () => {
  it('creates the directory and sets WAL, the named synchronous level and the lock wait', () => {
    const dir = join(root, 'a', 'b');
    const full = track(openSqlite(dir, 'full.db', { synchronous: 'FULL' }));
    expect(full.name).toBe(join(dir, 'full.db'));
    expect(full.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(full.pragma('synchronous', { simple: true })).toBe(2);
    expect(full.pragma('busy_timeout', { simple: true })).toBe(5000);
    const normal = track(openSqlite(dir, 'normal.db', { synchronous: 'NORMAL', busyTimeoutMs: 250.7 }));
    expect(normal.pragma('synchronous', { simple: true })).toBe(1);
    expect(normal.pragma('busy_timeout', { simple: true })).toBe(250);
  });

  it('FULL is what a file opened without a synchronous pragma had (stores that never set it keep their durability)', () => {
    const bare = track(new Database(join(root, 'bare.db')));
    bare.pragma('journal_mode = WAL');
    const helper = track(openSqlite(root, 'helper.db', { synchronous: 'FULL' }));
    expect(helper.pragma('synchronous', { simple: true })).toBe(bare.pragma('synchronous', { simple: true }));
  });

  it('opens in memory without a directory', () => {
    const db = track(openSqlite(undefined, 'x.db', { synchronous: 'NORMAL', migrations: ['CREATE TABLE t (a)'] }));
    expect(db.memory).toBe(true);
    db.prepare('INSERT INTO t VALUES (1)').run();
    expect(db.pragma('user_version', { simple: true })).toBe(1);
  });

  it('runs each migration once and records how many ran', () => {
    const v1 = ['CREATE TABLE t (a INTEGER)', "INSERT INTO t VALUES (1)"];
    const db = openSqlite(root, 'm.db', { synchronous: 'NORMAL', migrations: v1 });
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
    // Opened again: nothing runs again (a second CREATE TABLE would throw, a second INSERT would count).
    const again = openSqlite(root, 'm.db', { synchronous: 'NORMAL', migrations: v1 });
    expect(again.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(1);
    again.close();
    // A later version appends a step: only that one runs.
    const v2 = track(openSqlite(root, 'm.db', { synchronous: 'NORMAL', migrations: [...v1, 'ALTER TABLE t ADD COLUMN b TEXT'] }));
    expect(v2.pragma('user_version', { simple: true })).toBe(3);
    expect(v2.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(1);
    expect((v2.pragma('table_info(t)') as Array<{ name: string }>).map((c) => c.name)).toEqual(['a', 'b']);
  });

  it('opens a file written before versioning (tables there, user_version 0) with its data unchanged', () => {
    const schema = 'CREATE TABLE IF NOT EXISTS t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)';
    const old = new Database(join(root, 'old.db'));
    old.pragma('journal_mode = WAL');
    old.exec(schema);
    old.prepare("INSERT INTO t VALUES (7, 'kept')").run();
    const sqlBefore = old.prepare("SELECT sql FROM sqlite_master WHERE name = 't'").pluck().get();
    old.close();
    const db = track(openSqlite(root, 'old.db', { synchronous: 'FULL', migrations: [schema] }));
    expect(db.prepare('SELECT * FROM t').all()).toEqual([{ a: 7, b: 'kept' }]);
    expect(db.prepare("SELECT sql FROM sqlite_master WHERE name = 't'").pluck().get()).toBe(sqlBefore);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
  });

  it('a failed migration rolls back, closes the file and throws', () => {
    expect(() => openSqlite(root, 'bad.db', { synchronous: 'FULL', migrations: ['CREATE TABLE t (a)', 'NOT SQL'] })).toThrow();
    const db = track(new Database(join(root, 'bad.db')));
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 't'").pluck().get()).toBe(0);
  });
});
