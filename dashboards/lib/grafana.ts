/**
 * Grafana's substitution of macros and template variables in raw InfluxQL queries, reproduced
 * so the tests can run every panel's query against a real InfluxDB exactly as Grafana would send
 * it. Sources (Grafana 11/12, InfluxDB data source in its default backend mode):
 *
 * 1. Template variables are replaced in the browser, with the `regex` format for InfluxQL:
 *    `public/app/plugins/datasource/influxdb/datasource.ts` `applyVariables` calls
 *    `templateSrv.replace(query, scopedVars, 'regex')`; the `regex` formatter in
 *    `public/app/features/templating/formatRegistry.ts` escapes a single value with
 *    `kbn.regexEscape` and joins several as `(a|b)`. "All" becomes the variable's `allValue`
 *    unformatted when it has one, otherwise every option value joined as a regex.
 *    `$__interval` and `$__interval_ms` are left for the backend.
 * 2. The backend (`pkg/tsdb/influxdb/models/query.go` `Build`) replaces `$timeFilter` with
 *    `time >= {from}ms and time <= {to}ms`, then `$interval`, `$__interval_ms`, `$__interval`
 *    with the query interval formatted by `gtime.FormatInterval`.
 * 3. The interval is `rangeUtil.calculateInterval`: the time range divided by the panel's max data
 *    points (its width in pixels unless set), rounded by `roundInterval`, and no less than the
 *    panel's or the data source's min interval.
 */

/** A variable's current selection, as Grafana keeps it. `$__all` is "All". */
export interface VariableState {
  name: string;
  /** Selected value(s); `'$__all'` (or `['$__all']`) means All. */
  current: string | string[];
  /** Every option the variable offers (without All); needed for All without an `allValue`. */
  options?: string[];
  /** Custom All value (e.g. `.*`), inserted unformatted. */
  allValue?: string;
}

export interface InterpolationContext {
  /** Time range, epoch ms. */
  from: number;
  to: number;
  /**
   * The range as the time picker holds it (`now-7d`, `now`). When given, `$timeFilter` takes the
   * form of the browser-side (pre-backend) data source, `time >= now() - 7d and time <= now()`;
   * otherwise the backend's absolute form.
   */
  raw?: { from: string; to: string };
  /** The query interval, ms (see {@link calculateIntervalMs}). */
  intervalMs: number;
  variables: readonly VariableState[];
}

export const ALL_VALUE = '$__all';

/** `kbn.regexEscape`: backslash-escapes `\ ^ $ * + ? . ( ) | [ ] { } /`. */
export function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** Grafana's variable formats that matter for InfluxQL; unknown formats throw. */
function format(value: string | string[], fmt: string, name: string): string {
  switch (fmt) {
    case 'regex': {
      if (typeof value === 'string') return regexEscape(value);
      const escaped = value.map(regexEscape);
      return escaped.length === 1 ? (escaped[0] as string) : `(${escaped.join('|')})`;
    }
    case 'raw':
      return typeof value === 'string' ? value : value.join(',');
    case 'pipe':
      return typeof value === 'string' ? value : value.join('|');
    case 'csv':
      return typeof value === 'string' ? value : value.join(',');
    case 'singlequote': {
      const q = (v: string): string => `'${v.replace(/'/g, "\\'")}'`;
      return typeof value === 'string' ? q(value) : value.map(q).join(',');
    }
    case 'doublequote': {
      const q = (v: string): string => `"${v.replace(/"/g, '\\"')}"`;
      return typeof value === 'string' ? q(value) : value.map(q).join(',');
    }
    default:
      throw new Error(`variable ${name}: format ${fmt} is not reproduced by the dashboards' tests`);
  }
}

const isAll = (v: string | string[]): boolean => v === ALL_VALUE || (Array.isArray(v) && v[0] === ALL_VALUE);

/** Template syntax recognised by Grafana's `templateSrv` (`$var`, `[[var:fmt]]`, `${var:fmt}`). */
const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/**
 * Step 1: replaces template variables as the browser does before sending an InfluxQL query
 * (default format `regex`). Names that are not variables (`$timeFilter`, `$__interval`) are
 * left untouched, as Grafana leaves them.
 */
export function replaceVariables(query: string, variables: readonly VariableState[], defaultFormat = 'regex'): string {
  const byName = new Map(variables.map((v) => [v.name, v]));
  return query.replace(VARIABLE_RE, (match, n1?: string, n2?: string, f2?: string, n3?: string, fieldPath?: string, f3?: string) => {
    const name = n1 ?? n2 ?? n3;
    const v = name === undefined ? undefined : byName.get(name);
    if (!v) return match;
    if (fieldPath) throw new Error(`variable ${name}: field paths are not reproduced`);
    const fmt = f2 ?? f3 ?? defaultFormat;
    if (isAll(v.current)) {
      // A custom All value is not formatted (templateSrv skips formatting it except for text and queryparam).
      if (v.allValue !== undefined && fmt !== 'text' && fmt !== 'queryparam') return v.allValue;
      return format(v.options ?? [], fmt, v.name);
    }
    return format(v.current, fmt, v.name);
  });
}

/** `gtime.FormatInterval`: the largest whole unit (y, d, h, m, s, ms). */
export function formatInterval(ms: number): string {
  const units: Array<[string, number]> = [
    ['y', 365 * 86_400_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  for (const [u, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${u}`;
  return '1ms';
}

/** `rangeUtil.roundInterval` (ms in, ms out). */
export function roundInterval(interval: number): number {
  const steps: Array<[number, number]> = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
    [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000],
    [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000],
    [2700000, 1800000], [5400000, 3600000], [9000000, 7200000], [16200000, 10800000],
    [32400000, 21600000], [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, value] of steps) if (interval < below) return value;
  return 31536000000;
}

/** Parses a Grafana interval string (`10s`, `1m`, `500ms`, `1d`) to ms. */
export function intervalToMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)$/.exec(s.trim());
  if (!m) throw new Error(`not an interval: ${s}`);
  const size: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 };
  return Number(m[1]) * (size[m[2] as string] as number);
}

/**
 * `rangeUtil.calculateInterval`: `(to - from) / maxDataPoints`, rounded, at least `minInterval`.
 *
 * @param maxDataPoints - the panel's `maxDataPoints`, else its width in pixels
 * @param minInterval - the panel's `interval`, else the data source's `timeInterval` (e.g. `10s`)
 */
export function calculateIntervalMs(from: number, to: number, maxDataPoints: number, minInterval?: string): number {
  const low = minInterval ? intervalToMs(minInterval) : 1;
  return Math.max(low, roundInterval((to - from) / maxDataPoints));
}

/**
 * `getTimeFilter` of the browser-side InfluxDB data source: `now`, `now-<n><d|h|m|s>` stay relative
 * (`now() - 7d`), anything else becomes epoch ms.
 */
export function browserTimeFilter(raw: { from: string; to: string }, abs: { from: number; to: number }): string {
  const t = (s: string, ms: number): string => {
    if (s === 'now') return 'now()';
    const m = /^now-(\d+)([dhms])$/.exec(s);
    return m ? `now() - ${m[1]}${m[2]}` : `${Math.trunc(ms)}ms`;
  };
  return `time >= ${t(raw.from, abs.from)} and time <= ${t(raw.to, abs.to)}`;
}

/**
 * Grafana's whole substitution for a raw InfluxQL query: variables first (browser), then
 * `$timeFilter`, `$interval`, `$__interval_ms`, `$__interval` (backend), in that order.
 */
export function interpolateInfluxQL(query: string, ctx: InterpolationContext): string {
  const intervalText = formatInterval(ctx.intervalMs);
  let q = replaceVariables(query, ctx.variables);
  q = q.replaceAll('$timeFilter', ctx.raw ? browserTimeFilter(ctx.raw, ctx) : `time >= ${Math.trunc(ctx.from)}ms and time <= ${Math.trunc(ctx.to)}ms`);
  q = q.replaceAll('$interval', intervalText);
  q = q.replaceAll('$__interval_ms', String(Math.trunc(ctx.intervalMs)));
  q = q.replaceAll('$__interval', intervalText);
  return q;
}

/**
 * A Grafana relative time (`now`, `now-6h`, `now-7d`, `now/d` is not supported) to epoch ms.
 *
 * @throws Error for anything but `now` and `now-<n><unit>`
 */
export function parseRelativeTime(s: string, now: number): number {
  if (s === 'now') return now;
  const m = /^now-(\d+)(s|m|h|d|w|M|y)$/.exec(s);
  if (!m) throw new Error(`unsupported time ${s} (use now or now-<n><unit>)`);
  return now - intervalToMs(`${m[1]}${m[2]}`);
}
