/**
 * The console's state behind its routes (api/routes/console/): the live feed shaped for the
 * stream (one entry per metric, personal metrics never), the species tally of the biodiversity
 * view, the limits of the stocks and the hub's clock, and the page's built assets. cli/ hands it
 * to the API as `services.console`.
 */
import { metricDef } from '../core/catalogue.ts';
import { isSpeciesDetection } from '../core/reading.ts';
import type { AlertEvent } from '../core/alert.ts';
import type { ConsoleThreshold, LatestReading, SiteRichness } from '../core/views.ts';
import type { HubClock } from '../core/clock.ts';
import { join } from 'node:path';
import { DEFAULT_DIST_DIR, ensureConsoleBuilt } from './build.ts';
import type { LiveFeed, LiveReadingInput } from './live.ts';

/** The hub's clock when it is not the wall clock. */
export type ConsoleClock = HubClock;

export interface ConsoleServiceOptions {
  /** Stored (privacy-filtered) records and alert events as they happen; without it the stream only beats. */
  feed?: Pick<LiveFeed, 'subscribeReadings' | 'subscribeAlerts'>;
  /**
   * The clock the hub's data runs on, when it is not the wall clock: a scenario's simulated clock
   * (replaying a month at 3600×). The page shows times ("2 h ago", ranges of charts) on it.
   */
  clock?: () => ConsoleClock | undefined;
  /** Limits drawn on the stocks (`thresholdsFromRulesDir`); a function is called per request. */
  thresholds?: readonly ConsoleThreshold[] | (() => readonly ConsoleThreshold[]);
  /** Built assets (default `dist/console`). */
  distDir?: string;
  /**
   * `never` (default): serve what `npm run build` made; `auto`: build when missing or older than the
   * sources (needs the sources and the dev dependencies: tests, `startConsoleHub`); `always`.
   */
  build?: 'auto' | 'always' | 'never';
  /** Page title (default "Steward console"). */
  title?: string;
}

/** The console service (api/services.ts `ConsoleService`). */
export interface Console {
  readonly title: string;
  thresholds(): readonly ConsoleThreshold[];
  clock(): ConsoleClock | undefined;
  subscribeReadings(listener: (readings: readonly LatestReading[]) => void): () => void;
  subscribeAlerts(listener: (events: readonly AlertEvent[]) => void): () => void;
  richness(): { readonly since: number; summary(hub?: string): SiteRichness[]; close(): void };
  readonly distDir: string;
  ensureBuilt(): Promise<{ ms: number } | undefined>;
}

const NONE = (): (() => void) => () => undefined;

/** Builds the console's service. */
export function createConsoleService(opts: ConsoleServiceOptions = {}): Console {
  const distDir = opts.distDir ?? DEFAULT_DIST_DIR;
  const feed = opts.feed;
  return {
    title: opts.title ?? 'Steward console',
    thresholds: () => (typeof opts.thresholds === 'function' ? opts.thresholds() : (opts.thresholds ?? [])),
    clock: () => opts.clock?.(),
    subscribeReadings: feed ? (listener) => feed.subscribeReadings((records) => listener(toLiveReadings(records))) : NONE,
    subscribeAlerts: feed ? (listener) => feed.subscribeAlerts(listener) : NONE,
    richness() {
      const tally = new SpeciesTally();
      const off = feed ? feed.subscribeReadings((records) => tally.add(records), { only: 'detections' }) : () => undefined;
      return { since: tally.since, summary: (hub) => tally.summary(hub), close: off };
    },
    distDir,
    ensureBuilt: () => ensureConsoleBuilt(opts.build ?? 'never', distDir),
  };
}

/** One metric per entry; personal and unknown metrics never leave (the store is filtered; this is defence in depth). */
export function toLiveReadings(records: readonly LiveReadingInput[]): LatestReading[] {
  const out: LatestReading[] = [];
  for (const r of records) {
    for (const [metric, value] of Object.entries(r.metrics)) {
      const def = metricDef(metric);
      if (!def || def.personal || typeof value !== 'number' || !Number.isFinite(value)) continue;
      const e: LatestReading = { hub: r.hub, domain: r.domain, sensor: r.sensor, site: r.site, kind: r.kind, metric, value, unit: def.unit, ts: r.ts, time: new Date(r.ts).toISOString() };
      if (isSpeciesDetection(r)) e.species = r.species;
      out.push(e);
    }
  }
  return out;
}

const DAY = 86_400_000;

interface Detection {
  ts: number;
  species: string;
  count: number;
}

/**
 * Species detected per hub and site over the last 7 days of sensor time, from the stream. Bounded:
 * at most `maxPerSite` detections per site (the oldest go first).
 */
export class SpeciesTally {
  readonly #sites = new Map<string, { hub: string; site: string; sensors: Set<string>; detections: Detection[]; newest: number }>();
  readonly #maxPerSite: number;
  /** Wall clock when the tally began (it knows nothing older). */
  readonly since: number;

  constructor(opts: { maxPerSite?: number; now?: number } = {}) {
    this.#maxPerSite = opts.maxPerSite ?? 50_000;
    this.since = opts.now ?? Date.now();
  }

  add(records: readonly LiveReadingInput[]): void {
    for (const r of records) {
      if (!isSpeciesDetection(r)) continue;
      const count = r.metrics.count ?? 1;
      if (!(count > 0)) continue;
      const key = `${r.hub}/${r.site}`;
      let s = this.#sites.get(key);
      if (!s) this.#sites.set(key, (s = { hub: r.hub, site: r.site, sensors: new Set(), detections: [], newest: 0 }));
      s.sensors.add(r.sensor);
      s.detections.push({ ts: r.ts, species: r.species, count });
      s.newest = Math.max(s.newest, r.ts);
      if (s.detections.length > this.#maxPerSite * 1.1 || s.detections[0]!.ts < s.newest - 8 * DAY) {
        s.detections = s.detections.filter((d) => d.ts >= s.newest - 7 * DAY).slice(-this.#maxPerSite);
      }
    }
  }

  /** Per site: distinct species and detections in the 24 h and 7 days before its newest detection. */
  summary(hub?: string): SiteRichness[] {
    const out: SiteRichness[] = [];
    for (const s of this.#sites.values()) {
      if (hub && s.hub !== hub) continue;
      const day = new Map<string, number>();
      const week = new Set<string>();
      let detections24h = 0;
      for (const d of s.detections) {
        if (d.ts < s.newest - 7 * DAY) continue;
        week.add(d.species);
        if (d.ts >= s.newest - DAY) {
          day.set(d.species, (day.get(d.species) ?? 0) + d.count);
          detections24h += d.count;
        }
      }
      const top = [...day.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5).map(([species, count]) => ({ species, count }));
      out.push({ hub: s.hub, site: s.site, sensors: [...s.sensors].sort(), newest: s.newest, richness24h: day.size, richness7d: week.size, detections24h, top });
    }
    return out.sort((a, b) => a.hub.localeCompare(b.hub) || a.site.localeCompare(b.site));
  }
}

/** The page `npm run build` writes into `distDir` (default `dist/console`); a process serving the console needs it. */
export function consoleIndexPath(distDir: string = DEFAULT_DIST_DIR): string {
  return join(distDir, 'index.html');
}
