/**
 * Window store, after a restart or a reload: refills windows from storage (`ReadingStore.latest`
 * then `range`, the start of a long window from the hourly aggregates) and diversity windows from
 * the store's daily species counts. Best effort: what storage cannot give, the windows start without.
 */
import type { Logger } from 'pino';
import { metricDef } from '../core/catalogue.ts';
import type { Domain } from '../core/ids.ts';
import type { ReadingStore } from '../core/store.ts';
import type { Rule } from './kinds/all.ts';
import type { Member } from './kinds/types.ts';
import { type Compiled, matchesMember, sensorKey, seriesKey } from './ruleset.ts';
import type { WindowStore } from './windows.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface RestoreOptions {
  store: ReadingStore | undefined;
  log: Logger;
  /** Most points fetched per series (default 50,000). */
  maxPointsPerSeries?: number | undefined;
  now(): number;
}

/** Metrics a balance rule sums per sensor (quantities per interval): restored from hourly sums, not means. */
function summedMetrics(rule: Rule): Set<string> {
  if (rule.kind !== 'balance') return new Set();
  return new Set([rule.extraction, rule.regeneration].filter((side) => side.over === 'sum').flatMap((side) => side.list));
}

/** Refills the windows of `list` from storage, then their diversity windows (`diversity`: every enabled diversity rule). */
export async function restoreFromStorage(w: WindowStore, list: readonly Compiled[], diversity: readonly Compiled[], o: RestoreOptions): Promise<void> {
  await restoreWindows(w, list, o);
  await restoreDiversity(w, list, diversity, o);
}

/** Refills windows from storage: each matching sensor's points over the rule's span before its newest reading. */
export async function restoreWindows(w: WindowStore, list: readonly Compiled[], o: RestoreOptions): Promise<void> {
  const store = o.store;
  if (!store) return;
  const rules = list.filter((c) => c.rule.enabled && c.mode !== 'deadman' && c.rule.kind !== 'diversity');
  if (!rules.length) return;
  const queries = new Map<string, { hub?: string; domain: Domain }>();
  for (const c of rules) {
    const hub = c.hubs && c.hubs.size === 1 ? [...c.hubs][0] : undefined;
    for (const metric of c.metrics) {
      const domain = metricDef(metric)?.domain;
      if (!domain) continue;
      const q: { hub?: string; domain: Domain } = { domain };
      if (hub) q.hub = hub;
      queries.set(`${hub ?? '*'}|${domain}`, q);
    }
  }
  const wanted = new Map<string, { hub: string; sensor: string; metric: string; end: number; span: number; sum: boolean }>();
  const t0 = performance.now();
  for (const q of queries.values()) {
    let entries;
    try {
      entries = await store.latest(q);
    } catch (err) {
      o.log.warn({ err, query: q }, 'cannot rebuild windows from storage; they start empty');
      continue;
    }
    for (const e of entries) {
      const m: Member = { hub: e.hub, sensor: e.sensor, site: e.site, domain: e.domain };
      w.know(m);
      const key = seriesKey(e.hub, e.sensor, e.metric);
      const prev = w.latest.get(key);
      if (!prev || e.ts > prev.ts) w.latest.set(key, { ts: e.ts, value: e.value });
      for (const c of rules) {
        if (c.span <= 0 || !c.metrics.includes(e.metric) || !matchesMember(c, m)) continue;
        const have = wanted.get(key);
        const sum = summedMetrics(c.rule).has(e.metric);
        if (!have || have.span < c.span) wanted.set(key, { hub: e.hub, sensor: e.sensor, metric: e.metric, end: e.ts, span: c.span, sum: sum || (have?.sum ?? false) });
        else if (sum) have.sum = true;
      }
    }
  }
  let points = 0;
  let hourly = 0;
  for (const [key, want] of wanted) {
    let pts;
    const from = want.end - want.span;
    const limit = o.maxPointsPerSeries ?? 50_000;
    try {
      pts = await store.range({ hub: want.hub, sensor: want.sensor, metric: want.metric, from, to: want.end + 1, limit });
    } catch (err) {
      o.log.warn({ err, series: key }, 'cannot rebuild a window from storage');
      continue;
    }
    const s = w.seriesFor(key, want.span);
    // A window reaching back past the raw readings kept (e.g. 90 days on a 30-day store): its
    // start comes from the hourly aggregates, one point per hour at the hour's middle (the mean;
    // the sum for a balance side that sums quantities).
    const rawFrom = pts[0]?.ts ?? want.end + 1;
    const hoursTo = Math.floor(rawFrom / HOUR_MS) * HOUR_MS;
    if (hoursTo - from >= HOUR_MS) {
      try {
        const buckets = await store.range({ hub: want.hub, sensor: want.sensor, metric: want.metric, from, to: hoursTo, resolution: '1h', windowMs: HOUR_MS, agg: want.sum ? 'sum' : 'mean', limit });
        for (const b of buckets) s.add(b.ts + HOUR_MS / 2, b.value);
        hourly += buckets.length;
      } catch (err) {
        o.log.warn({ err, series: key }, 'cannot rebuild the start of a window from the hourly aggregates');
      }
    }
    for (const p of pts) s.add(p.ts, p.value);
    points += pts.length;
  }
  if (wanted.size) o.log.info({ series: wanted.size, points, hourly, ms: Math.round(performance.now() - t0) }, 'windows rebuilt from storage');
}

/**
 * Diversity windows reaching back past the detections the rules state holds (a new state, or a
 * baseline a year back added today) get their earlier whole days from the store's daily species
 * counts: one detection per site, species and day (at noon; the newest day at the newest reading),
 * counting the day's individuals, attributed to the site's first sensor. A site with several
 * sensors is restored only when every diversity rule aggregates by site or hub (a per-sensor
 * rule would otherwise see its neighbours' species). `diversity`: every enabled diversity rule.
 */
export async function restoreDiversity(w: WindowStore, list: readonly Compiled[], diversity: readonly Compiled[], o: RestoreOptions): Promise<void> {
  const store = o.store;
  const rules = list.filter((c) => c.rule.enabled && c.rule.kind === 'diversity');
  if (!store || !rules.length || !diversity.length) return;
  const span = Math.max(...diversity.map((c) => c.span));
  const grouped = diversity.every((c) => c.rule.aggregate?.by === 'site' || c.rule.aggregate?.by === 'hub');
  let entries;
  try {
    entries = await store.latest({ domain: 'biodiversity' });
  } catch (err) {
    o.log.warn({ err }, 'cannot rebuild diversity windows from storage');
    return;
  }
  const sites = new Map<string, { hub: string; site: string; sensors: Set<string>; newest: number }>();
  for (const e of entries) {
    const key = `${e.hub}\u0000${e.site}`;
    const s = sites.get(key) ?? { hub: e.hub, site: e.site, sensors: new Set<string>(), newest: e.ts };
    s.sensors.add(e.sensor);
    s.newest = Math.max(s.newest, e.ts);
    sites.set(key, s);
  }
  let added = 0;
  let skipped = 0;
  for (const s of sites.values()) {
    if (s.sensors.size > 1 && !grouped) {
      skipped++;
      continue;
    }
    const sensors = [...s.sensors].sort();
    const held = Math.min(...sensors.map((x) => w.detections.get(sensorKey(s.hub, x))?.[0]?.ts ?? Infinity));
    const from = Math.ceil((s.newest - span) / DAY_MS) * DAY_MS;
    const to = held === Infinity ? s.newest + 1 : Math.floor(held / DAY_MS) * DAY_MS;
    if (to <= from) continue;
    let counts;
    try {
      counts = await store.speciesCounts({ hub: s.hub, site: s.site, from, to });
    } catch (err) {
      o.log.warn({ err, site: s.site }, 'cannot rebuild a diversity window from the species counts');
      continue;
    }
    const sensor = sensors[0] as string;
    const sk = sensorKey(s.hub, sensor);
    w.know({ hub: s.hub, sensor, site: s.site, domain: 'biodiversity' });
    // The newest day at the newest reading, so windows end where they would on raw detections.
    const today = Math.floor(s.newest / DAY_MS) * DAY_MS;
    for (const c of counts) if (w.addDetection(sk, { ts: c.day === today ? s.newest : c.day + DAY_MS / 2, species: c.species, count: c.individuals }, span, o.now())) added++;
  }
  if (added || skipped) o.log.info({ detections: added, sitesSkipped: skipped }, 'diversity windows rebuilt from daily species counts');
}
