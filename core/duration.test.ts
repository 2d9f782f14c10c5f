import { describe, expect, it } from 'vitest';
import { formatDuration, humanDuration, parseDuration } from './duration.ts';

describe('durations', () => {
  it('parses rule-file durations to milliseconds', () => {
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('1y')).toBe(365 * 86_400_000);
    expect(parseDuration('0s')).toBe(0);
    for (const bad of ['7days', '7', 'd', '', '-1d', '1d ago']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('words and rule-file strings', () => {
    expect(humanDuration(15 * 60_000)).toBe('15 minutes');
    expect(humanDuration(90 * 60_000)).toBe('90 minutes');
    expect(humanDuration(86_400_000)).toBe('24 hours');
    expect(humanDuration(11.6 * 86_400_000)).toBe('11.6 days');
    expect(humanDuration(1000)).toBe('1 second');
    expect(formatDuration(7 * 86_400_000)).toBe('1w');
    expect(formatDuration(90 * 60_000)).toBe('90m');
  });
});
