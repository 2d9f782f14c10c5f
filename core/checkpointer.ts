/**
 * WAL checkpoints of a SQLite file, run in a small worker thread of their own instead of inside
 * the commits of the thread that writes the file.
 *
 * In WAL mode a commit appends to the `-wal` file; a checkpoint copies those pages back into the
 * database file and fsyncs both. SQLite's automatic checkpoint runs in whichever commit crosses
 * `wal_autocheckpoint` pages, on the writer's thread: for `rules.db` that is the main thread, in
 * the commit of a reading that moves an alert, and its fsyncs then held that alert up by 10–20 ms
 * (docs/benchmarks.md). With a checkpointer the writer's connection keeps a high automatic
 * threshold only as a bound (should the worker die), and the worker runs a passive checkpoint
 * (never waits for, never blocks the writer) every `everyMs` on its own connection.
 * @module
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './sqlite.ts';

/**
 * The writer's automatic checkpoint while another thread checkpoints its file (this checkpointer,
 * or the forwarder thread for the spool): a bound on the `-wal` file (about 40 MB), not the usual path.
 */
export const BOUND_PAGES = 10_000;

export interface Checkpointer {
  /** Ends the worker (its checkpoint in progress, if any, completes or is rolled back by SQLite). */
  stop(): Promise<void>;
}

/** The worker's code: plain CommonJS, so it runs the same from the sources and from dist/. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
let db;
let failing = false;
const tick = () => {
  try {
    if (!db) {
      db = new Database(workerData.file, { fileMustExist: true });
      db.pragma('busy_timeout = 1000');
    }
    db.pragma('wal_checkpoint(PASSIVE)');
    failing = false;
  } catch (err) {
    // Said once per run of failures, not every tick.
    if (!failing) parentPort.postMessage({ error: String((err && err.message) || err) });
    failing = true;
  }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    try { db?.close(); } catch {}
    parentPort.close();
  }
});
`;

/**
 * Moves the automatic checkpoints of `db` (open in WAL mode on `file`) to a worker thread.
 * `onError` hears when checkpoints start failing (once per run of failures; the writer's bound
 * still holds the file).
 */
export function startCheckpointer(db: SqliteDatabase, file: string, o: { everyMs?: number; onError?: (message: string) => void } = {}): Checkpointer {
  db.pragma(`wal_autocheckpoint = ${BOUND_PAGES}`);
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, sqlite, everyMs: o.everyMs ?? 1000 }, name: 'steward-checkpointer' });
  worker.unref();
  worker.on('message', (m: { error?: string }) => {
    if (m.error) o.onError?.(m.error);
  });
  worker.on('error', (err) => o.onError?.(err.message));
  let exited = false;
  worker.once('exit', () => (exited = true));
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate(), 2000).unref();
      });
      return stopped;
    },
  };
}
