/**
 * Persistent alert state: a SQLite file (`rules.db`) in the state directory holding alerts,
 * their history (state transitions, acknowledgements, silences), silences, when each sensor was
 * last heard from (deadman) and biodiversity detections (diversity windows: storage cannot give
 * back species, so they are kept here). A restart reads it back: firing alerts stay firing and
 * are not notified again.
 */
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { startCheckpointer, type Checkpointer } from '../core/checkpointer.ts';
import type { Domain } from '../core/ids.ts';
import { openSqlite } from '../core/sqlite.ts';
import { RulesError } from './errors.ts';
import type { AlertState, HistoryEntry, Silence } from '../core/alert.ts';
import type { AlertRecord } from './lifecycle.ts';

export type { HistoryEntry, Silence, SilenceMatchers } from '../core/alert.ts';




export interface LastSeenRow {
  hub: string;
  sensor: string;
  site: string;
  domain: Domain;
  at: number;
  /** Usual gap between arrivals, ms (null until learned). */
  gap: number | null;
}

export interface DetectionRow {
  hub: string;
  sensor: string;
  site: string;
  ts: number;
  species: string;
  count: number;
}

/** The rules engine's tables (the first migration: files from before versioning already have them). */
const SCHEMA = `
      CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY, hub TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL,
        state TEXT NOT NULL, severity TEXT NOT NULL, updated_at INTEGER NOT NULL, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, at INTEGER NOT NULL, ts INTEGER,
        event TEXT NOT NULL, from_state TEXT, to_state TEXT, episode INTEGER NOT NULL, message TEXT NOT NULL, by TEXT);
      CREATE INDEX IF NOT EXISTS history_alert ON history (alert_id, seq);
      CREATE INDEX IF NOT EXISTS history_at ON history (at);
      CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, ends_at INTEGER NOT NULL, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS last_seen (
        hub TEXT NOT NULL, sensor TEXT NOT NULL, site TEXT NOT NULL, domain TEXT NOT NULL, at INTEGER NOT NULL, gap REAL,
        PRIMARY KEY (hub, sensor));
      CREATE TABLE IF NOT EXISTS detections (
        hub TEXT NOT NULL, sensor TEXT NOT NULL, site TEXT NOT NULL, ts INTEGER NOT NULL, species TEXT NOT NULL, count REAL NOT NULL,
        PRIMARY KEY (hub, sensor, ts, species));
`;

/** The rules engine's SQLite state. One per state directory (one rules engine per directory). */
export class AlertStateStore {
  readonly #db: Database.Database;
  readonly #stmts;
  readonly #checkpointer: Checkpointer;

  private constructor(db: Database.Database, checkpointer: Checkpointer) {
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#stmts = {
      upsertAlert: db.prepare(
        `INSERT INTO alerts (id, hub, rule, subject, state, severity, updated_at, data) VALUES (@id, @hub, @rule, @subject, @state, @severity, @updatedAt, @data)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, severity = excluded.severity, updated_at = excluded.updated_at, data = excluded.data`,
      ),
      allAlerts: db.prepare('SELECT data FROM alerts'),
      addHistory: db.prepare('INSERT INTO history (alert_id, at, ts, event, from_state, to_state, episode, message, by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      history: db.prepare('SELECT * FROM history WHERE alert_id = ? ORDER BY seq DESC LIMIT ?'),
      pruneHistory: db.prepare('DELETE FROM history WHERE at < ?'),
      upsertSilence: db.prepare('INSERT INTO silences (id, ends_at, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, data = excluded.data'),
      allSilences: db.prepare('SELECT data FROM silences ORDER BY ends_at DESC'),
      pruneSilences: db.prepare('DELETE FROM silences WHERE ends_at < ?'),
      upsertSeen: db.prepare(
        'INSERT INTO last_seen (hub, sensor, site, domain, at, gap) VALUES (@hub, @sensor, @site, @domain, @at, @gap) ON CONFLICT (hub, sensor) DO UPDATE SET site = excluded.site, domain = excluded.domain, at = MAX(at, excluded.at), gap = COALESCE(excluded.gap, gap)',
      ),
      allSeen: db.prepare('SELECT hub, sensor, site, domain, at, gap FROM last_seen'),
      addDetection: db.prepare('INSERT OR REPLACE INTO detections (hub, sensor, site, ts, species, count) VALUES (@hub, @sensor, @site, @ts, @species, @count)'),
      detectionsSince: db.prepare('SELECT hub, sensor, site, ts, species, count FROM detections WHERE ts >= ? ORDER BY ts'),
      pruneDetections: db.prepare('DELETE FROM detections WHERE hub = ? AND sensor = ? AND ts < ?'),
    };
  }

  /**
   * Opens (creating) `rules.db` in `dir`. Throws RulesError RULES_ERR_STATE. Its WAL checkpoints
   * run in a worker thread (core/checkpointer.ts): a transition's commit, on the thread that
   * delivers the alert, never waits for an fsync of the whole file. `onCheckpointError` hears
   * about a checkpoint that failed there.
   */
  static open(dir: string, opts: { onCheckpointError?: (message: string) => void } = {}): AlertStateStore {
    try {
      const db = openSqlite(dir, 'rules.db', { synchronous: 'NORMAL', migrations: [SCHEMA] });
      try {
        return new AlertStateStore(db, startCheckpointer(db, join(dir, 'rules.db'), opts.onCheckpointError ? { onError: opts.onCheckpointError } : {}));
      } catch (e) {
        db.close();
        throw e;
      }
    } catch (e) {
      throw new RulesError('RULES_ERR_STATE', `cannot open the alert state in ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  loadAlerts(): AlertRecord[] {
    return (this.#stmts.allAlerts.all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as AlertRecord);
  }

  /** Saves alerts (and history entries) in one transaction. */
  save(alerts: readonly AlertRecord[], history: readonly HistoryEntry[] = []): void {
    this.#db.transaction(() => {
      for (const a of alerts) this.#stmts.upsertAlert.run({ id: a.id, hub: a.hub, rule: a.rule, subject: a.subject, state: a.state, severity: a.severity, updatedAt: a.updatedAt, data: JSON.stringify(a) });
      for (const h of history) this.#stmts.addHistory.run(h.alertId, h.at, h.ts, h.event, h.from, h.to, h.episode, h.message, h.by);
    })();
  }

  /** Newest first. */
  history(alertId: string, limit = 200): HistoryEntry[] {
    return (this.#stmts.history.all(alertId, limit) as Array<Record<string, unknown>>).map((r) => ({
      alertId: r.alert_id as string,
      at: r.at as number,
      ts: r.ts as number | null,
      event: r.event as HistoryEntry['event'],
      from: r.from_state as AlertState | null,
      to: r.to_state as AlertState | null,
      episode: r.episode as number,
      message: r.message as string,
      by: r.by as string | null,
    }));
  }

  saveSilence(s: Silence): void {
    this.#stmts.upsertSilence.run(s.id, s.endsAt, JSON.stringify(s));
  }

  loadSilences(): Silence[] {
    return (this.#stmts.allSilences.all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as Silence);
  }

  saveLastSeen(rows: readonly LastSeenRow[]): void {
    if (!rows.length) return;
    this.#db.transaction(() => {
      for (const r of rows) this.#stmts.upsertSeen.run(r);
    })();
  }

  loadLastSeen(): LastSeenRow[] {
    return this.#stmts.allSeen.all() as LastSeenRow[];
  }

  addDetections(rows: readonly DetectionRow[]): void {
    if (!rows.length) return;
    this.#db.transaction(() => {
      for (const r of rows) this.#stmts.addDetection.run(r);
    })();
  }

  detectionsSince(ts: number): DetectionRow[] {
    return this.#stmts.detectionsSince.all(ts) as DetectionRow[];
  }

  pruneDetections(hub: string, sensor: string, before: number): void {
    this.#stmts.pruneDetections.run(hub, sensor, before);
  }

  /** Drops history older than `historyBefore` and silences that ended before `silencesBefore`. */
  prune(historyBefore: number, silencesBefore: number): void {
    this.#stmts.pruneHistory.run(historyBefore);
    this.#stmts.pruneSilences.run(silencesBefore);
  }

  /** Stops the checkpoints and closes the file. */
  async close(): Promise<void> {
    await this.#checkpointer.stop();
    if (this.#db.open) this.#db.close();
  }
}
