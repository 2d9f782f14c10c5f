import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AggregateRow, floorTo, HOUR_MS, rebucket } from './aggregates.ts';
import type { Aggregation } from '../core/store.ts';

/** What a store computes from raw points: epoch-aligned windows, empty ones left out. */
function fromRaw(points: Array<{ ts: number; value: number }>, windowMs: number, agg: Aggregation): Array<{ ts: number; value: number }> {
  const byWindow = new Map<number, Array<{ ts: number; value: number }>>();
  for (const p of [...points].sort((a, b) => a.ts - b.ts)) {
    const w = floorTo(p.ts, windowMs);
    byWindow.set(w, [...(byWindow.get(w) ?? []), p]);
  }
  return [...byWindow.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([ts, ps]) => {
      const vs = ps.map((p) => p.value);
      const sum = vs.reduce((a, b) => a + b, 0);
      const value = { mean: sum / vs.length, min: Math.min(...vs), max: Math.max(...vs), sum, count: vs.length, last: (ps.at(-1) as { value: number }).value }[agg];
      return { ts, value };
    });
}

/** Hourly buckets of raw points, as downsampling writes them. */
function hourly(points: Array<{ ts: number; value: number }>): AggregateRow[] {
  return fromRaw(points, HOUR_MS, 'count').map(({ ts }) => {
    const ps = points.filter((p) => floorTo(p.ts, HOUR_MS) === ts).sort((a, b) => a.ts - b.ts);
    const vs = ps.map((p) => p.value);
    return { ts, min: Math.min(...vs), max: Math.max(...vs), sum: vs.reduce((a, b) => a + b, 0), count: vs.length, last: (ps.at(-1) as { value: number }).value };
  });
}

describe('rebucket', () => {
  it('property: windows of whole hours built from hourly buckets equal windows built from the raw points', () => {
    const T = Date.UTC(2030, 0, 1);
    const point = fc.record({ ts: fc.integer({ min: T, max: T + 10 * 24 * HOUR_MS }), value: fc.integer({ min: -1000, max: 1000 }) });
    fc.assert(
      fc.property(fc.uniqueArray(point, { selector: (p) => p.ts, minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 72 }), fc.constantFrom<Aggregation>('mean', 'min', 'max', 'sum', 'count', 'last'), (points, hours, agg) => {
        const windowMs = hours * HOUR_MS;
        const got = rebucket(hourly(points), windowMs, agg, 10_000);
        const want = fromRaw(points, windowMs, agg);
        expect(got.map((p) => p.ts)).toEqual(want.map((p) => p.ts));
        got.forEach((p, i) => expect(p.value).toBeCloseTo((want[i] as { value: number }).value, 9));
      }),
    );
  });

  it('merges buckets of several series at the same time (a sensor id in two hubs) and honours the limit', () => {
    const rows: AggregateRow[] = [
      { ts: 0, min: 1, max: 1, sum: 1, count: 1, last: 1 },
      { ts: 0, min: 5, max: 5, sum: 10, count: 2, last: 5 },
      { ts: HOUR_MS, min: 2, max: 2, sum: 2, count: 1, last: 2 },
      { ts: 2 * HOUR_MS, min: 3, max: 3, sum: 3, count: 1, last: 3 },
    ];
    expect(rebucket(rows, HOUR_MS, 'mean', 10)).toEqual([
      { ts: 0, value: 11 / 3 },
      { ts: HOUR_MS, value: 2 },
      { ts: 2 * HOUR_MS, value: 3 },
    ]);
    expect(rebucket(rows, HOUR_MS, 'count', 2)).toEqual([
      { ts: 0, value: 3 },
      { ts: HOUR_MS, value: 1 },
    ]);
    expect(rebucket(rows, 2 * HOUR_MS, 'last', 10)).toEqual([
      { ts: 0, value: 2 },
      { ts: 2 * HOUR_MS, value: 3 },
    ]);
  });
});
