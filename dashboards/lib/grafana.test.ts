import { describe, expect, it } from 'vitest';
import {
  ALL_VALUE,
  type VariableState,
  calculateIntervalMs,
  formatInterval,
  interpolateInfluxQL,
  intervalToMs,
  parseRelativeTime,
  regexEscape,
  replaceVariables,
  roundInterval,
} from './grafana.ts';

const hub = (current: string | string[], extra: Partial<VariableState> = {}): VariableState => ({ name: 'hub', current, options: ['demo', 'north.hub'], ...extra });

describe('replaceVariables (browser side, regex format for InfluxQL)', () => {
  it('escapes a single value for a regex', () => {
    expect(replaceVariables('"hub" =~ /^$hub$/', [hub('north.hub')])).toBe('"hub" =~ /^north\\.hub$/');
    expect(regexEscape('a/b(c)|d*')).toBe('a\\/b\\(c\\)\\|d\\*');
  });

  it('several values become (a|b); one value of a multi-select stays bare', () => {
    expect(replaceVariables('/^$hub$/', [hub(['demo', 'north.hub'])])).toBe('/^(demo|north\\.hub)$/');
    expect(replaceVariables('/^$hub$/', [hub(['demo'])])).toBe('/^demo$/');
  });

  it('All is the custom all value, unformatted: /^.*$/', () => {
    expect(replaceVariables('/^$hub$/', [hub(ALL_VALUE, { allValue: '.*' })])).toBe('/^.*$/');
    expect(replaceVariables('/^$hub$/', [hub([ALL_VALUE], { allValue: '.*' })])).toBe('/^.*$/');
  });

  it('All without a custom value is every option as a regex alternation', () => {
    expect(replaceVariables('/^$hub$/', [hub(ALL_VALUE)])).toBe('/^(demo|north\\.hub)$/');
  });

  it('${var:raw}, [[var]] and ${var} forms; unknown names ($timeFilter, $__interval) are left alone', () => {
    const vars: VariableState[] = [{ name: 'floor', current: '40.5' }, hub('demo')];
    expect(replaceVariables('x - ${floor:raw} + $floor + [[floor]] + ${floor}', vars)).toBe('x - 40.5 + 40\\.5 + 40\\.5 + 40\\.5');
    expect(replaceVariables('WHERE $timeFilter GROUP BY time($__interval)', vars)).toBe('WHERE $timeFilter GROUP BY time($__interval)');
  });

  it('refuses formats it does not reproduce', () => {
    expect(() => replaceVariables('${hub:lucene}', [hub('demo')])).toThrow(/lucene/);
  });
});

describe('interpolateInfluxQL (backend macros after variables)', () => {
  it('$timeFilter as an absolute ms range, $__interval and $__interval_ms from the interval', () => {
    const q = interpolateInfluxQL('SELECT mean("x") FROM "m" WHERE $timeFilter AND "hub" =~ /^$hub$/ GROUP BY time($__interval) -- $__interval_ms $interval', {
      from: 1_000_000,
      to: 2_000_000.7,
      intervalMs: 300_000,
      variables: [hub('demo')],
    });
    expect(q).toBe('SELECT mean("x") FROM "m" WHERE time >= 1000000ms and time <= 2000000ms AND "hub" =~ /^demo$/ GROUP BY time(5m) -- 300000 5m');
  });
});

describe('browser-side $timeFilter (data source without the backend)', () => {
  it('keeps relative ranges relative, absolute ones in ms', () => {
    const ctx = { from: 10, to: 20, intervalMs: 1000, variables: [] };
    expect(interpolateInfluxQL('WHERE $timeFilter', { ...ctx, raw: { from: 'now-7d', to: 'now' } })).toBe('WHERE time >= now() - 7d and time <= now()');
    expect(interpolateInfluxQL('WHERE $timeFilter', { ...ctx, raw: { from: '2025-01-01', to: 'now' } })).toBe('WHERE time >= 10ms and time <= now()');
  });
});

describe('intervals as Grafana computes them', () => {
  it('formatInterval uses the largest whole unit', () => {
    expect([1, 999, 1000, 90_000, 3_600_000, 86_400_000, 604_800_000, 31_536_000_000].map(formatInterval)).toEqual(['1ms', '999ms', '1s', '1m', '1h', '1d', '7d', '1y']);
  });

  it('roundInterval snaps to the steps Grafana offers', () => {
    expect([12, 40_000, 100_000, 1_000_000, 50_000_000].map(roundInterval)).toEqual([10, 30_000, 120_000, 900_000, 43_200_000]);
  });

  it('calculateIntervalMs: range / max data points, rounded, never below the min interval', () => {
    expect(calculateIntervalMs(0, 6 * 3_600_000, 1280)).toBe(15_000);
    expect(calculateIntervalMs(0, 6 * 3_600_000, 1280, '1m')).toBe(60_000);
    expect(calculateIntervalMs(0, 7 * 86_400_000, 640)).toBe(900_000);
  });

  it('parses intervals and relative times', () => {
    expect(intervalToMs('10s')).toBe(10_000);
    expect(intervalToMs('1d')).toBe(86_400_000);
    expect(parseRelativeTime('now', 5)).toBe(5);
    expect(parseRelativeTime('now-6h', 6 * 3_600_000)).toBe(0);
    expect(() => parseRelativeTime('now/d', 0)).toThrow(/unsupported/);
    expect(() => intervalToMs('soon')).toThrow(/not an interval/);
  });
});
