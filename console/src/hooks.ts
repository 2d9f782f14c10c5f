/** Data hooks shared by the views. */
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api } from './api.ts';
import { type LiveSeries, getState, hubNow, trackSeries } from './state.ts';

export interface SeriesRequest {
  hub: string;
  sensor: string;
  metric: string;
  rangeMs: number;
  /** e.g. `1h`; absent = raw points. */
  window?: { label: string; ms: number };
  agg?: 'mean' | 'sum' | 'min' | 'max';
  /** Re-read when this changes (reconnects, hub changes). */
  epoch: number;
}

export interface SeriesState {
  series: LiveSeries | null;
  unit: string;
  loading: boolean;
  error: string | null;
  truncated: boolean;
}

/** Reads a series once per request (and epoch), then keeps it current from the stream. */
export function useSeries(q: SeriesRequest | null): SeriesState {
  const [st, setSt] = useState<SeriesState>({ series: null, unit: '', loading: true, error: null, truncated: false });
  const [, setVersion] = useState(0);
  const key = q ? `${q.hub}/${q.sensor}/${q.metric}/${q.rangeMs}/${q.window?.label ?? 'raw'}/${q.agg ?? ''}/${q.epoch}` : '';
  useEffect(() => {
    if (!q) return;
    let cancelled = false;
    let untrack: (() => void) | undefined;
    setSt((s) => ({ ...s, loading: true, error: null }));
    // Ranges end at the hub's now: a scenario replaying last month has no data in the wall clock's last week.
    const to = hubNow() + 60_000;
    const from = to - q.rangeMs;
    const openData = getState().config?.features.openData ?? false;
    api
      .series(openData, { hub: q.hub, sensor: q.sensor, metric: q.metric, from, to, ...(q.window ? { window: q.window.label, agg: q.agg ?? 'mean' } : {}) })
      .then((res) => {
        if (cancelled) return;
        const ls: LiveSeries = {
          hub: q.hub,
          sensor: q.sensor,
          metric: q.metric,
          windowMs: q.window?.ms ?? 0,
          agg: q.agg ?? 'mean',
          keepMs: q.rangeMs,
          ts: res.points.map((p) => p.ts),
          values: res.points.map((p) => p.value),
          lastCount: 1,
          version: 0,
        };
        // Live readings bump `version`; re-render with the same arrays.
        untrack = trackSeries(
          new Proxy(ls, {
            set(target, prop, value) {
              (target as unknown as Record<string | symbol, unknown>)[prop] = value;
              if (prop === 'version') setVersion(value as number);
              return true;
            },
          }),
        );
        setSt({ series: ls, unit: res.unit, loading: false, error: null, truncated: res.truncated });
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        const msg = e instanceof ApiFailure && e.status === 404 ? 'no data yet' : e instanceof ApiFailure ? e.message : String(e);
        setSt({ series: null, unit: '', loading: false, error: msg, truncated: false });
      });
    return () => {
      cancelled = true;
      untrack?.();
    };
  }, [key]);
  return st;
}

/** Now on the hub's clock, re-rendering at least every `ms` (relative times such as "3 min ago"). */
export function useHubNow(ms: number): number {
  useTicker(ms);
  return hubNow();
}

/** Re-renders every `ms` (relative times such as "3 min ago"); the wall clock. */
export function useTicker(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
