import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, JITTER_20_PERCENT, JITTER_HALF, parseRetryAfter } from './backoff.ts';

describe('backoffDelay', () => {
  it('doubles from initialMs and stops at maxMs', () => {
    const o = { initialMs: 250, maxMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => backoffDelay(n, o))).toEqual([250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('stays finite however long the outage (and 0 for a 0 ms step)', () => {
    expect(backoffDelay(100_000, { initialMs: 500, maxMs: 30_000 })).toBe(30_000);
    expect(backoffDelay(100_000, { initialMs: 0, maxMs: 30_000 })).toBe(0);
  });

  it('a maxMs below initialMs caps every delay', () => {
    expect([1, 2, 3].map((n) => backoffDelay(n, { initialMs: 250, maxMs: 50 }))).toEqual([50, 50, 50]);
  });

  it('jitter spreads the step and rounds', () => {
    const at = (r: number, jitter = JITTER_20_PERCENT): number => backoffDelay(3, { initialMs: 1000, maxMs: 60_000, jitter, random: () => r });
    expect(at(0)).toBe(3200);
    expect(at(0.5)).toBe(4000);
    expect(at(0.999)).toBe(4798);
    expect(at(0, JITTER_HALF)).toBe(2000);
    expect(at(0.999, JITTER_HALF)).toBe(3998);
    expect(backoffDelay(1, { initialMs: 333, maxMs: 1000, jitter: JITTER_HALF, random: () => 0 })).toBe(167);
  });

  it('jitter defaults to Math.random within its band', () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: JITTER_HALF });
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(200);
    }
  });
});

describe('Backoff', () => {
  it('counts failures, honours a longer Retry-After, and starts again after a success', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 2000 });
    expect(b.failures).toBe(0);
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000, 2000]);
    expect(b.failures).toBe(4);
    expect(b.next(10_000)).toBe(10_000);
    expect(b.next(100)).toBe(2000);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next(undefined)).toBe(500);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds or an HTTP date (a past date is 0)', () => {
    const now = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter(' 3 ', now)).toBe(3000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
  });

  it('is undefined when absent or unreadable', () => {
    const now = Date.UTC(2030, 0, 1);
    for (const v of [null, undefined, '', '  ', 'soon']) expect(parseRetryAfter(v, now)).toBeUndefined();
  });
});
