/**
 * Household energy: differentially private area totals over the 15/15 floor. A household's load
 * is never stored or published by itself: each reading joins the group of its area and window
 * (fixed, epoch-aligned, non-overlapping). When the window closes:
 *
 * 1. households whose privacy budget for the UTC day cannot pay for one more total are left out
 *    (the budget: `epsilonPerDay`; one total costs `epsilonPerWindow` = epsilonPerDay × window / day);
 * 2. the 15/15 floor: at least `minHouseholds` households, none above `maxShare` of the load, or
 *    the group is suppressed (counted);
 * 3. each household's mean load is capped at `maxLoadW`, the capped loads are summed, Laplace
 *    noise of scale maxLoadW / epsilonPerWindow is added (drawn once, from the OS's secure random
 *    source), and the result is rounded to whole watts and floored at 0. Every household taking
 *    part is charged `epsilonPerWindow` in its budget of that day.
 *
 * So the totals published in a day are epsilonPerDay-differentially private for every household
 * (sequential composition; the cap is the sensitivity): differencing windows, overlapping areas
 * (a meter reporting two areas pays twice from one budget) or subtracting one's own meters does
 * not isolate one household beyond that bound. What the noise does not cover: whether a total is
 * published at all (the 15/15 decision uses exact counts and shares).
 *
 * A group is decided once and for all (a reading arriving after its group closed is refused as
 * late, also after a restart), and its noisy total never changes: asking again does not give a
 * fresh draw to average.
 *
 * State is durable (SQLite `privacy-households.db` under the data dir, WAL): the spool deletes a
 * household reading once it has been handed over here, so the open groups must survive a crash.
 * Household ids are kept only as an HMAC under a random salt of this file.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.ts';
import { openSqlite } from '../core/sqlite.ts';
import type { StoredReading } from '../core/store.ts';
import { type ActionSink, type HouseholdContribution, type HouseholdRules, type SuppressionReason, decideGroup, laplace } from '../privacy/index.ts';

/** File of the aggregator's state under the data dir. */
export const HOUSEHOLDS_DB = 'privacy-households.db';

const DAY_MS = 86_400_000;

/** The aggregator's tables (the first migration: files from before versioning already have them). */
const SCHEMA = `
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS watermarks (hub TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS groups (
        hub TEXT NOT NULL, area TEXT NOT NULL, window_ms INTEGER NOT NULL, window_start INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'emitted', 'suppressed')),
        last_arrival INTEGER NOT NULL, out_key TEXT, output TEXT, acked INTEGER NOT NULL DEFAULT 0, reason TEXT,
        PRIMARY KEY (hub, area, window_ms, window_start)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS groups_pending ON groups (acked, state, window_start);
      CREATE INDEX IF NOT EXISTS groups_out ON groups (out_key);
      CREATE TABLE IF NOT EXISTS budget (household TEXT NOT NULL, day INTEGER NOT NULL, spent REAL NOT NULL, PRIMARY KEY (household, day)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS contributions (
        hub TEXT NOT NULL, area TEXT NOT NULL, window_ms INTEGER NOT NULL, window_start INTEGER NOT NULL,
        household TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (hub, area, window_ms, window_start, household, ts)) WITHOUT ROWID;
`;

/** A uniform number in (0, 1) from the OS's secure random source (48 bits). */
export function secureUniform(): number {
  const b = randomBytes(6);
  return (b.readUIntBE(0, 6) + 0.5) / 2 ** 48;
}

/** Counters of the aggregator (since it was opened). */
export interface AggregatorStats {
  /** Groups still collecting. */
  open: number;
  emitted: number;
  suppressed: number;
  /** Emitted groups not yet acknowledged as stored. */
  pending: number;
  late: number;
  /** Household contributions left out of a total because their day's budget was spent. */
  overBudget: number;
}

export interface HouseholdAggregatorOptions {
  /** Directory of the state file; in memory when absent (tests). */
  dataDir?: string;
  clock: Clock;
  actions: ActionSink;
  /** Uniform numbers in (0, 1) for the noise (default: the OS's secure random source). Tests only. */
  uniform?: () => number;
  /** Told about each suppressed group (area, window, reason; never a household). */
  onSuppressed?: (info: { hub: string; area: string; windowStart: number; reason: SuppressionReason; households: number }) => void;
}

interface GroupRow {
  hub: string;
  area: string;
  window_ms: number;
  window_start: number;
}

/** The stateful side of the privacy boundary. One per process; not shared between processes. */
export class HouseholdAggregator {
  readonly #db: Database.Database;
  readonly #o: HouseholdAggregatorOptions;
  readonly #salt: Buffer;
  readonly #watermarks = new Map<string, number>();
  readonly #st: Record<string, Database.Statement>;
  readonly #add: (c: HouseholdContribution, household: string, windowMs: number, windowStart: number, now: number, mark: number) => void;
  #late = 0;
  #overBudget = 0;
  #emitted = 0;
  #suppressed = 0;
  #closed = false;

  constructor(o: HouseholdAggregatorOptions) {
    this.#o = o;
    this.#db = openSqlite(o.dataDir, HOUSEHOLDS_DB, { synchronous: 'NORMAL', migrations: [SCHEMA] });
    const salt = this.#db.prepare(`SELECT value FROM meta WHERE key = 'salt'`).get() as { value: string } | undefined;
    if (salt) this.#salt = Buffer.from(salt.value, 'hex');
    else {
      this.#salt = randomBytes(32);
      this.#db.prepare(`INSERT INTO meta (key, value) VALUES ('salt', ?)`).run(this.#salt.toString('hex'));
    }
    for (const r of this.#db.prepare('SELECT hub, ts FROM watermarks').all() as Array<{ hub: string; ts: number }>) this.#watermarks.set(r.hub, r.ts);
    this.#st = {
      group: this.#db.prepare('SELECT state FROM groups WHERE hub = ? AND area = ? AND window_ms = ? AND window_start = ?'),
      openGroup: this.#db.prepare(
        `INSERT INTO groups (hub, area, window_ms, window_start, state, last_arrival) VALUES (?, ?, ?, ?, 'open', ?)
         ON CONFLICT DO UPDATE SET last_arrival = excluded.last_arrival`,
      ),
      contribute: this.#db.prepare('INSERT OR REPLACE INTO contributions (hub, area, window_ms, window_start, household, ts, value) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      watermark: this.#db.prepare('INSERT INTO watermarks (hub, ts) VALUES (?, ?) ON CONFLICT DO UPDATE SET ts = MAX(ts, excluded.ts)'),
      due: this.#db.prepare(
        `SELECT g.hub, g.area, g.window_ms, g.window_start FROM groups g LEFT JOIN watermarks w ON w.hub = g.hub
         WHERE g.state = 'open' AND (
           g.window_start + g.window_ms + @grace <= COALESCE(w.ts, -1e18)
           OR (g.window_start + g.window_ms + @grace <= @now AND g.last_arrival + @grace <= @now))
         ORDER BY g.window_start, g.hub, g.area`,
      ),
      loads: this.#db.prepare(
        'SELECT household, AVG(value) AS load FROM contributions WHERE hub = ? AND area = ? AND window_ms = ? AND window_start = ? GROUP BY household',
      ),
      close: this.#db.prepare('UPDATE groups SET state = ?, out_key = ?, output = ?, reason = ? WHERE hub = ? AND area = ? AND window_ms = ? AND window_start = ?'),
      forget: this.#db.prepare('DELETE FROM contributions WHERE hub = ? AND area = ? AND window_ms = ? AND window_start = ?'),
      pending: this.#db.prepare(`SELECT output FROM groups WHERE acked = 0 AND state = 'emitted' ORDER BY window_start, hub, area LIMIT ?`),
      ack: this.#db.prepare(`UPDATE groups SET acked = 1 WHERE out_key = ? AND state = 'emitted'`),
      prune: this.#db.prepare(`DELETE FROM groups WHERE hub = ? AND window_start + window_ms < ? AND state != 'open' AND (state = 'suppressed' OR acked = 1)`),
      spent: this.#db.prepare('SELECT spent FROM budget WHERE household = ? AND day = ?'),
      charge: this.#db.prepare('INSERT INTO budget (household, day, spent) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET spent = spent + excluded.spent'),
      pruneBudget: this.#db.prepare('DELETE FROM budget WHERE day < ?'),
      counts: this.#db.prepare(`SELECT SUM(state = 'open') AS open, SUM(state = 'emitted' AND acked = 0) AS pending FROM groups`),
    };
    this.#add = this.#db.transaction((c: HouseholdContribution, household: string, windowMs: number, windowStart: number, now: number, mark: number) => {
      this.#st.openGroup!.run(c.hub, c.area, windowMs, windowStart, now);
      this.#st.contribute!.run(c.hub, c.area, windowMs, windowStart, household, c.ts, c.value);
      this.#st.watermark!.run(c.hub, mark);
    });
  }

  #check(): void {
    if (this.#closed) throw new Error('household aggregator used after close()');
  }

  /**
   * Adds one household reading to its group. Idempotent: the same household and timestamp again
   * replaces the earlier value (the forwarder re-filters a batch after a failed write).
   *
   * @returns `aggregated`, or `late` when its group is already decided or it is older than the horizon
   */
  add(c: HouseholdContribution, rules: HouseholdRules): 'aggregated' | 'late' {
    this.#check();
    const now = this.#o.clock.now();
    const mark = this.#watermarks.get(c.hub) ?? -Infinity;
    const windowStart = Math.floor(c.ts / rules.windowMs) * rules.windowMs;
    const state = (this.#st.group!.get(c.hub, c.area, rules.windowMs, windowStart) as { state: string } | undefined)?.state;
    if (c.ts < mark - rules.horizonMs || (state !== undefined && state !== 'open')) {
      this.#late++;
      this.#o.actions('late');
      return 'late';
    }
    // The event-time watermark never runs ahead of the clock: a device clock in the future must
    // not close everyone's window early.
    const next = Math.max(mark, Math.min(c.ts, now));
    const household = createHmac('sha256', this.#salt).update(c.household, 'utf8').digest('base64url');
    this.#add(c, household, rules.windowMs, windowStart, now, next);
    this.#watermarks.set(c.hub, next);
    return 'aggregated';
  }

  /**
   * Decides every group whose window has closed (the newest household reading of its hub is
   * `grace` past its end, or the clock is and nothing arrived for `grace`), then returns the
   * published groups not yet acknowledged, oldest first. A group is decided once; its output is
   * frozen, so handing it over again (until {@link ack}) is harmless.
   *
   * @param now - epoch ms (the forwarder's clock)
   * @param version - policy version the decided groups carry
   * @param limit - most records returned
   */
  drain(now: number, rules: HouseholdRules, version: string, limit = 1000): StoredReading[] {
    this.#check();
    const due = this.#st.due!.all({ grace: rules.graceMs, now }) as GroupRow[];
    if (due.length) {
      this.#db.transaction(() => {
        for (const g of due) this.#decide(g, rules, version);
      })();
    }
    let oldest = Infinity;
    for (const [hub, mark] of this.#watermarks) {
      this.#st.prune!.run(hub, mark - rules.horizonMs);
      oldest = Math.min(oldest, mark - rules.horizonMs);
    }
    // Budgets are kept as long as a reading of their day could still be accepted.
    if (Number.isFinite(oldest)) this.#st.pruneBudget!.run(Math.floor(oldest / DAY_MS) - 1);
    return (this.#st.pending!.all(limit) as Array<{ output: string }>).map((r) => JSON.parse(r.output) as StoredReading);
  }

  #decide(g: GroupRow, rules: HouseholdRules, version: string): void {
    const rows = this.#st.loads!.all(g.hub, g.area, g.window_ms, g.window_start) as Array<{ household: string; load: number }>;
    // 1. Only households with budget left for this total take part.
    const day = Math.floor(g.window_start / DAY_MS);
    const cost = rules.epsilonPerWindow;
    const members = rows.filter((r) => {
      const spent = (this.#st.spent!.get(r.household, day) as { spent: number } | undefined)?.spent ?? 0;
      if (spent + cost <= rules.epsilonPerDay + 1e-9) return true;
      this.#overBudget++;
      this.#o.actions('over_budget');
      return false;
    });
    // 2. The 15/15 floor.
    const d = decideGroup(
      members.map((r) => r.load),
      rules,
    );
    const key = [g.hub, g.area, g.window_ms, g.window_start] as const;
    if (d.publish) {
      // 3. Capped loads, Laplace noise, whole watts, never negative; each member pays for it.
      const capped = members.reduce((a, r) => a + Math.min(Math.max(r.load, 0), rules.maxLoadW), 0);
      const noisy = Math.max(0, Math.round(capped + laplace(rules.maxLoadW / cost, this.#o.uniform ?? secureUniform)));
      for (const r of members) this.#st.charge!.run(r.household, day, cost);
      const sensor = rules.sensorPrefix + g.area;
      const record: StoredReading = {
        hub: g.hub,
        domain: 'energy',
        sensor,
        site: sensor,
        kind: rules.kind,
        ts: g.window_start,
        seq: Math.floor(g.window_start / g.window_ms),
        // Noisy, whole watts: a total, not a fingerprint.
        metrics: { [rules.outputMetric]: noisy },
        attributes: { area: g.area },
        policy: version,
      };
      this.#st.close!.run('emitted', outKey(record), JSON.stringify(record), null, ...key);
      this.#emitted++;
      this.#o.actions('emitted');
    } else {
      this.#st.close!.run('suppressed', null, null, d.reason ?? null, ...key);
      this.#suppressed++;
      this.#o.actions('suppressed');
      this.#o.onSuppressed?.({ hub: g.hub, area: g.area, windowStart: g.window_start, reason: d.reason!, households: d.households });
    }
    this.#st.forget!.run(...key);
  }

  /** Marks records returned by {@link drain} as stored: they are not returned again. */
  ack(records: readonly StoredReading[]): void {
    this.#check();
    if (!records.length) return;
    this.#db.transaction(() => {
      for (const r of records) this.#st.ack!.run(outKey(r));
    })();
  }

  stats(): AggregatorStats {
    this.#check();
    const c = this.#st.counts!.get() as { open: number | null; pending: number | null };
    return { open: c.open ?? 0, pending: c.pending ?? 0, emitted: this.#emitted, suppressed: this.#suppressed, late: this.#late, overBudget: this.#overBudget };
  }

  /** Closes the state file. Open groups stay in it for the next start (nothing is lost, nothing emitted early). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function outKey(r: Pick<StoredReading, 'hub' | 'sensor' | 'ts'>): string {
  return `${r.hub}/${r.sensor}/${r.ts}`;
}
