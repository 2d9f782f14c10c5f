/**
 * Downsampled aggregates, shared by both stores so they answer long ranges the same way.
 *
 * Every series (hub, domain, sensor, metric) is summarised per UTC hour and per UTC day as
 * min, max, sum, count and last (the value of the newest reading in the bucket); the mean is
 * sum / count, so windows built from buckets give exactly the answer raw points would give
 * (windows are epoch-aligned and a whole number of buckets). Biodiversity readings are also
 * summarised per site, species and UTC day (detections and individuals counted). Raw readings
 * are kept as long as the store's raw retention; aggregates for years (docs/storage.md "Years").
 */
import type { Aggregation, Resolution, SeriesPoint } from '../core/store.ts';

export type { DownsampleOutcome, Resolution, SpeciesCount, SpeciesQuery } from '../core/store.ts';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const RESOLUTIONS: readonly Resolution[] = ['raw', '1h', '1d'];
/** Bucket size of an aggregate resolution. */
export const RESOLUTION_MS: Record<Exclude<Resolution, 'raw'>, number> = { '1h': HOUR_MS, '1d': DAY_MS };

/** How long aggregates are kept. */
export interface AggregateRetention {
  /** Hourly aggregates, days (default 730). */
  hourlyDays: number;
  /** Daily aggregates and daily species counts, days (default 1825: five years). */
  dailyDays: number;
}

export const DEFAULT_AGGREGATE_RETENTION: AggregateRetention = { hourlyDays: 730, dailyDays: 1825 };

/** One bucket of one series. `ts` is the bucket start (epoch ms, a multiple of the bucket size). */
export interface AggregateRow {
  ts: number;
  min: number;
  max: number;
  sum: number;
  count: number;
  last: number;
}




/** Longest delay `setTimeout` honours (a longer one fires at once, over and over). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Floor of `ts` to a multiple of `size`. */
export function floorTo(ts: number, size: number): number {
  return Math.floor(ts / size) * size;
}

/**
 * Combines buckets (in time order) into epoch-aligned windows of `windowMs` (a multiple of the
 * bucket size) with the aggregation, leaving empty windows out, at most `limit` windows.
 */
export function rebucket(rows: readonly AggregateRow[], windowMs: number, agg: Aggregation, limit: number): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  let cur: (AggregateRow & { lastTs: number }) | undefined;
  const emit = (): void => {
    if (!cur) return;
    const value = agg === 'mean' ? cur.sum / cur.count : agg === 'last' ? cur.last : cur[agg];
    out.push({ ts: cur.ts, value });
  };
  for (const r of rows) {
    if (r.count <= 0) continue;
    const w = floorTo(r.ts, windowMs);
    if (!cur || cur.ts !== w) {
      emit();
      if (out.length >= limit) return out;
      cur = { ts: w, min: r.min, max: r.max, sum: r.sum, count: r.count, last: r.last, lastTs: r.ts };
      continue;
    }
    cur.min = Math.min(cur.min, r.min);
    cur.max = Math.max(cur.max, r.max);
    cur.sum += r.sum;
    cur.count += r.count;
    if (r.ts >= cur.lastTs) {
      cur.last = r.last;
      cur.lastTs = r.ts;
    }
  }
  if (out.length < limit) emit();
  return out;
}
