import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leastSquares, movingAverage } from '../core/trend.ts';
import { Series } from './series.ts';

describe('Series (a bounded window on sensor time)', () => {
  it('keeps points in time order whatever the arrival order; a repeated timestamp replaces', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 200 }), (tss) => {
        const s = new Series(1_000_000);
        for (const ts of tss) s.add(ts, ts * 2);
        for (const ts of tss.slice(0, 5)) expect(s.add(ts, -1)).toBe('replaced');
        const pts = s.range(-Infinity, Infinity);
        expect(pts.map((p) => p.ts)).toEqual([...tss].sort((a, b) => a - b));
        expect(pts.length).toBe(tss.length);
      }),
    );
  });

  it('drops what falls out of the span behind the newest point and refuses points older than that', () => {
    const s = new Series(100);
    for (let t = 0; t <= 1000; t += 10) s.add(t, t);
    expect(s.range(-Infinity, Infinity).map((p) => p.ts)).toEqual([900, 910, 920, 930, 940, 950, 960, 970, 980, 990, 1000]);
    expect(s.add(850, 1)).toBe('too_old');
    expect(s.add(905, 1)).toBe('inserted');
    s.ensureSpan(1000);
    expect(s.add(850, 1)).toBe('inserted');
  });

  it('caps the number of points (oldest first)', () => {
    const s = new Series(Number.MAX_SAFE_INTEGER, 100);
    for (let t = 0; t < 5000; t++) s.add(t, t);
    expect(s.size).toBe(100);
    expect(s.range(-Infinity, Infinity)[0]?.ts).toBe(4900);
    expect(s.capped).toBe(4900);
  });
});

describe('least squares and moving average', () => {
  it('recovers a known line exactly, with epoch-millisecond times', () => {
    const t0 = Date.UTC(2026, 0, 1);
    const pts = Array.from({ length: 50 }, (_, i) => ({ ts: t0 + i * 3_600_000, value: 42 - 0.5 * (i / 24) }));
    const fit = leastSquares(pts);
    expect((fit?.slope ?? 0) * 86_400_000).toBeCloseTo(-0.5, 10);
    expect(fit?.intercept).toBeCloseTo(42 - 0.5 * (49 / 24), 10);
    expect(fit?.r2).toBeCloseTo(1, 12);
    expect(leastSquares(pts.slice(0, 1))).toBeUndefined();
  });

  it('a one-period moving average removes a periodic swing and keeps the trend', () => {
    const pts = Array.from({ length: 24 * 6 }, (_, i) => ({ ts: i * 3_600_000, value: 10 - 0.1 * (i / 24) + 3 * Math.sin((2 * Math.PI * i) / 24) }));
    const ma = movingAverage(pts, 86_400_000);
    expect(ma[0]?.ts).toBe(86_400_000);
    expect((leastSquares(ma)?.slope ?? 0) * 86_400_000).toBeCloseTo(-0.1, 6);
  });
});
