/**
 * Durations in rule files: `90s`, `15m`, `1h30m`, `7d`, `2w`, `1y` (365 days), `250ms`, `0s`.
 * Parsed once when a rule file is loaded; the engine works in milliseconds.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (!WHOLE.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Math.round(ms);
}

function plural(n: number, unit: string): string {
  const v = Number.isInteger(n) ? String(n) : n.toFixed(1);
  return `${v} ${unit}${v === '1' ? '' : 's'}`;
}

/**
 * A duration in plain words, in the largest unit that reads well:
 * `15 minutes`, `2.5 hours`, `11.6 days`, `30 seconds`.
 */
export function humanDuration(ms: number): string {
  const a = Math.abs(ms);
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  if (a >= 2 * 86_400_000) return plural(round1(ms / 86_400_000), 'day');
  if (a >= 2 * 3_600_000) return plural(round1(ms / 3_600_000), 'hour');
  if (a >= 2 * 60_000) return plural(round1(ms / 60_000), 'minute');
  if (a >= 1000) return plural(round1(ms / 1000), 'second');
  return `${Math.round(ms)} ms`;
}

/** A duration as the shortest rule-file string: 604800000 -> `7d`, 5400000 -> `90m`. */
export function formatDuration(ms: number): string {
  for (const [u, f] of [['y', UNIT_MS.y], ['w', UNIT_MS.w], ['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s]] as const) {
    if (ms >= (f as number) && ms % (f as number) === 0) return `${ms / (f as number)}${u}`;
  }
  return `${ms}ms`;
}
