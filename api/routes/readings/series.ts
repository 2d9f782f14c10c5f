/**
 * One metric of one sensor over time, as both series routes answer it: the steward's
 * (`/api/v1/readings`) and the open-data one (`/api/v1/public/readings`). Each route decides the
 * hub, the metric and the resolution its own way; reading the store and shaping the answer is here.
 */
import type { Aggregation, RangeQuery, ReadingStore, Resolution } from '../../../core/store.ts';
import type { SeriesView } from '../../../core/views.ts';
import { invalidParameter } from '../../errors.ts';
import { formatWindow, MAX_POINTS } from '../../schemas.ts';

const iso = (ts: number): string => new Date(ts).toISOString();

/**
 * The range a query asks for: `to` defaults to `now`, `from` to `span` before `to`. 400 unless
 * `from` is before `to`, or when `window` cuts the range into more than MAX_POINTS windows.
 */
export function rangeOf(q: { from?: number | undefined; to?: number | undefined; window?: number | undefined }, now: number, span: number): { from: number; to: number } {
  const to = q.to ?? now;
  const from = q.from ?? to - span;
  if (from >= to) throw invalidParameter(q.from === undefined ? 'to' : 'from', `"from" (${iso(from)}) must be before "to" (${iso(to)})`);
  if (q.window !== undefined && (to - from) / q.window > MAX_POINTS)
    throw invalidParameter('window', `${Math.ceil((to - from) / q.window)} windows between "from" and "to"; at most ${MAX_POINTS}: widen the window or narrow the range`);
  return { from, to };
}

/** What to read: the series, its range, windows (`agg` default mean) and resolution. */
export interface SeriesAsk {
  hub: string | undefined;
  sensor: string;
  metric: string;
  unit: string;
  from: number;
  to: number;
  windowMs: number | undefined;
  agg: Aggregation | undefined;
  /** Most points answered (one more is read to tell whether the series was cut). */
  limit: number;
  resolution: Resolution;
}

/** Reads the series from the store and shapes the answer (`truncated` when `limit` cut it). */
export async function readSeries(store: ReadingStore, a: SeriesAsk): Promise<SeriesView> {
  const rq: RangeQuery = { sensor: a.sensor, metric: a.metric, from: a.from, to: a.to, limit: a.limit + 1, resolution: a.resolution };
  if (a.hub) rq.hub = a.hub;
  if (a.windowMs !== undefined) {
    rq.windowMs = a.windowMs;
    rq.agg = a.agg ?? 'mean';
  }
  const points = await store.range(rq);
  return {
    hub: a.hub ?? null,
    sensor: a.sensor,
    metric: a.metric,
    unit: a.unit,
    from: a.from,
    fromTime: iso(a.from),
    to: a.to,
    toTime: iso(a.to),
    window: rq.windowMs === undefined ? null : formatWindow(rq.windowMs),
    agg: rq.agg ?? null,
    resolution: a.resolution,
    truncated: points.length > a.limit,
    points: points.slice(0, a.limit).map((p) => ({ ts: p.ts, time: iso(p.ts), value: p.value })),
  };
}
