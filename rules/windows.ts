/**
 * The window store: what the rules know of the data, per hub, sensor and metric. The newest point
 * of each series, bounded series for windowed rules (series.ts), biodiversity detections per
 * sensor, and when each sensor was last heard from (wall clock, for deadman) with its usual gap.
 * Filled by the evaluator on each reading and, after a restart, from rules.db (last seen,
 * detections) and from storage (restore.ts).
 */
import type { Logger } from 'pino';
import type { Reading } from '../core/reading.ts';
import type { Member } from './kinds/types.ts';
import type { RulesMetrics } from './metrics.ts';
import { type Compiled, sensorKey } from './ruleset.ts';
import { type Point, Series } from './series.ts';
import type { AlertStateStore, DetectionRow, LastSeenRow } from './state.ts';

export interface SeenEntry {
  at: number;
  member: Member;
  /** Never heard from since this engine started (seeded from the registry). */
  never?: boolean;
  /** Usual wall-clock gap between arrivals (EWMA), ms. */
  gap?: number;
}

export interface Detection {
  ts: number;
  species: string;
  count: number;
}

export class WindowStore {
  readonly latest = new Map<string, Point>();
  readonly series = new Map<string, Series>();
  readonly meta = new Map<string, Member>();
  readonly seen = new Map<string, SeenEntry>();
  readonly detections = new Map<string, Detection[]>();
  readonly #seenDirty = new Set<string>();
  readonly #log: Logger;
  readonly #metrics: RulesMetrics | undefined;
  readonly #maxPoints: number | undefined;
  #ignored = 0;
  #ignoredLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(o: { log: Logger; metrics: RulesMetrics | undefined; maxPointsPerSeries?: number | undefined }) {
    this.#log = o.log;
    this.#metrics = o.metrics;
    this.#maxPoints = o.maxPointsPerSeries;
  }

  /** Notes a sensor's member facts unless already known. */
  know(m: Member): void {
    const sk = sensorKey(m.hub, m.sensor);
    if (!this.meta.has(sk)) this.meta.set(sk, m);
  }

  /** A reading from `r`'s sensor arrived at `now` (wall clock): last seen and the usual gap. */
  arrived(r: Reading, now: number): Member {
    const member: Member = { hub: r.hub, sensor: r.sensor, site: r.site, domain: r.domain };
    const sk = sensorKey(r.hub, r.sensor);
    this.meta.set(sk, member);
    const before = this.seen.get(sk);
    const entry: SeenEntry = { at: now, member };
    let gap = before?.gap;
    if (before && !before.never && now > before.at) {
      // EWMA of arrival gaps; one long outage moves it at most 4× (so it is not learned as normal).
      const g = gap === undefined ? now - before.at : Math.min(now - before.at, 4 * gap);
      gap = gap === undefined ? g : 0.8 * gap + 0.2 * g;
    }
    if (gap !== undefined) entry.gap = gap;
    this.seen.set(sk, entry);
    this.#seenDirty.add(sk);
    return member;
  }

  /** A registered sensor not heard from yet: deadman counts its silence from `at`. */
  registered(m: Member, at: number): void {
    const sk = sensorKey(m.hub, m.sensor);
    this.know(m);
    if (!this.seen.has(sk)) this.seen.set(sk, { at, member: m, never: true });
  }

  /** Records the newest point of a series; true when `ts` is the newest so far. */
  setLatest(key: string, ts: number, value: number): boolean {
    const prev = this.latest.get(key);
    const newest = !prev || ts >= prev.ts;
    if (newest) this.latest.set(key, { ts, value });
    return newest;
  }

  /** The series of `key`, created or widened to hold `span`. */
  seriesFor(key: string, span: number): Series {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = new Series(span, this.#maxPoints)));
    s.ensureSpan(span);
    return s;
  }

  /** Adds a point to a window; a point older than the window before the newest is counted and ignored. */
  addPoint(key: string, ts: number, value: number, span: number, now: number): void {
    const s = this.seriesFor(key, span);
    if (s.add(ts, value) === 'too_old') this.#tooOld(key, ts, s.latestTs, now);
  }

  /** Widens the existing series a rule reads to its span. */
  ensureSpans(c: Compiled): void {
    if (!c.rule.enabled || c.span <= 0 || c.rule.kind === 'diversity') return;
    for (const [key, s] of this.series) {
      const [, , metric] = key.split('/');
      if (c.metrics.includes(metric as string)) s.ensureSpan(c.span);
    }
  }

  /**
   * Counts a reading ignored because it is older than the window before its series' newest one,
   * and says so in the log (at most once a minute of wall clock, with how many since the last
   * line): a replay of old data into a hub with newer data otherwise looks like silence.
   */
  #tooOld(series: string, ts: number, newest: number | undefined, now: number): void {
    this.#metrics?.readingsLate.inc({ reason: 'too_old' });
    this.#ignored++;
    if (now - this.#ignoredLoggedAt < 60_000) return;
    this.#log.warn(
      { series, ts: new Date(ts).toISOString(), newest: newest === undefined ? null : new Date(newest).toISOString(), ignored: this.#ignored },
      `ignoring readings older than the rules' windows: ${series} at ${new Date(ts).toISOString()} is older than the window before its newest reading${newest === undefined ? '' : ` (${new Date(newest).toISOString()})`}; ${this.#ignored} ignored since the last such line`,
    );
    this.#ignoredLoggedAt = now;
    this.#ignored = 0;
  }

  /** Adds a detection in time order (same time and species replaces); false when too old. */
  addDetection(sk: string, d: Detection, span: number, now: number): boolean {
    let list = this.detections.get(sk);
    if (!list) this.detections.set(sk, (list = []));
    const last = list.at(-1);
    if (last && d.ts < last.ts - span) {
      this.#tooOld(`${sk}/species`, d.ts, last.ts, now);
      return false;
    }
    let i = list.length;
    while (i > 0 && (list[i - 1] as Detection).ts > d.ts) i--;
    let j = i;
    while (j > 0 && (list[j - 1] as Detection).ts === d.ts) {
      if ((list[j - 1] as Detection).species === d.species) {
        list[j - 1] = d;
        return true;
      }
      j--;
    }
    list.splice(i, 0, d);
    const newest = (list.at(-1) as Detection).ts;
    let drop = 0;
    while (drop < list.length && (list[drop] as Detection).ts < newest - span) drop++;
    if (drop) list.splice(0, drop);
    return true;
  }

  /**
   * Last-seen times from rules.db. Grace after a restart: readings that arrived while we were down
   * were not seen, so silence counts from `startedAt`; except where `held` (a deadman alert is in
   * force), which must stay firing.
   */
  restoreSeen(rows: readonly LastSeenRow[], startedAt: number, held: (row: LastSeenRow) => boolean): void {
    for (const row of rows) {
      const member: Member = { hub: row.hub, sensor: row.sensor, site: row.site, domain: row.domain };
      this.meta.set(sensorKey(row.hub, row.sensor), member);
      const entry: SeenEntry = { at: held(row) ? row.at : Math.max(row.at, startedAt), member };
      if (row.gap !== null) entry.gap = row.gap;
      this.seen.set(sensorKey(row.hub, row.sensor), entry);
    }
  }

  /** Detections from rules.db, kept for `span` before each sensor's newest. */
  restoreDetections(rows: readonly DetectionRow[], span: number, now: number): void {
    for (const row of rows) {
      this.know({ hub: row.hub, sensor: row.sensor, site: row.site, domain: 'biodiversity' });
      this.addDetection(sensorKey(row.hub, row.sensor), { ts: row.ts, species: row.species, count: row.count }, span, now);
    }
  }

  /** Saves the last-seen times changed since the last save (throws on a database error). */
  saveSeen(state: AlertStateStore): void {
    const seen = [...this.#seenDirty].map((k) => this.seen.get(k)).filter((e): e is SeenEntry => e !== undefined);
    state.saveLastSeen(seen.filter((e) => !e.never).map((e) => ({ ...e.member, at: e.at, gap: e.gap ?? null })));
    this.#seenDirty.clear();
  }

  /** Drops stored detections older than `span` before each sensor's newest. */
  pruneDetections(state: AlertStateStore, span: number): void {
    for (const [sk, list] of this.detections) {
      const newest = list.at(-1)?.ts;
      const [hub, sensor] = sk.split('/') as [string, string];
      if (newest !== undefined) state.pruneDetections(hub, sensor, newest - span);
    }
  }
}
