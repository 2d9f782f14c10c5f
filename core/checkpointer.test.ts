import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BOUND_PAGES, startCheckpointer } from './checkpointer.ts';
import { openSqlite } from './sqlite.ts';

describe('startCheckpointer (WAL checkpoints in a worker thread)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('copies what the writer commits into the database file without the writer checkpointing, and stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-checkpointer-'));
    dirs.push(dir);
    const db = openSqlite(dir, 'x.db', { synchronous: 'NORMAL', migrations: ['CREATE TABLE t (v TEXT)'] });
    const errors: string[] = [];
    const cp = startCheckpointer(db, join(dir, 'x.db'), { everyMs: 20, onError: (m) => errors.push(m) });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BOUND_PAGES);
    const before = statSync(join(dir, 'x.db')).size;
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    // About 2 MB in many small commits: far below the writer's own bound, so only the worker checkpoints.
    for (let i = 0; i < 200; i++) db.transaction(() => { for (let j = 0; j < 10; j++) insert.run('x'.repeat(1000)); })();
    const deadline = Date.now() + 10_000;
    while (statSync(join(dir, 'x.db')).size < before + 1_500_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(statSync(join(dir, 'x.db')).size).toBeGreaterThan(before + 1_500_000);
    await cp.stop();
    await cp.stop(); // twice is harmless
    expect(errors).toEqual([]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(2000);
    db.close();
  });

  it('says when a checkpoint fails (the file is gone), and still stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-checkpointer-'));
    dirs.push(dir);
    const db = openSqlite(dir, 'x.db', { synchronous: 'NORMAL' });
    const errors: string[] = [];
    const cp = startCheckpointer(db, join(dir, 'missing.db'), { everyMs: 20, onError: (m) => errors.push(m) });
    const deadline = Date.now() + 5000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(errors[0]).toMatch(/missing\.db|unable to open|does not exist/i);
    await cp.stop();
    db.close();
  });
});
