/**
 * InfluxQL for the reads of the InfluxDB store. InfluxQL is answered by InfluxDB 1.x, 2.x (through
 * a DBRP mapping) and 3.x on `/query`. Statements are built only from validated ids, catalogue
 * names and numbers, and every identifier and string literal still goes through
 * {@link quoteIdent} / {@link quoteString}.
 */
import { metricsOf } from '../core/catalogue.ts';
import { DOMAINS, type Domain } from '../core/ids.ts';
import type { NormalizedRange } from './queries.ts';
import type { LatestFilter } from '../core/store.ts';

/**
 * Escapes the characters InfluxQL's string scanner treats specially inside a quoted token: `\`,
 * the quote character itself and a newline (a raw newline ends the token with "bad string").
 */
function escapeFor(quote: '"' | "'", s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    else out += ch;
  }
  return out;
}

/** A double-quoted InfluxQL identifier (measurement, field, tag, retention policy). */
export function quoteIdent(name: string): string {
  return `"${escapeFor('"', name)}"`;
}

/** A single-quoted InfluxQL string literal (tag values in WHERE clauses). */
export function quoteString(value: string): string {
  return `'${escapeFor("'", value)}'`;
}

/** `FROM` target: the measurement, qualified by the retention policy when one is configured. */
export function fromClause(measurement: string, retentionPolicy?: string): string {
  return retentionPolicy ? `${quoteIdent(retentionPolicy)}.${quoteIdent(measurement)}` : quoteIdent(measurement);
}

function tagConditions(f: { hub?: string | undefined; sensor?: string | undefined }): string[] {
  const c: string[] = [];
  if (f.hub !== undefined) c.push(`${quoteIdent('hub')} = ${quoteString(f.hub)}`);
  if (f.sensor !== undefined) c.push(`${quoteIdent('sensor')} = ${quoteString(f.sensor)}`);
  return c;
}

/** One `latest` statement: which domain and metric its result rows belong to. */
export interface LatestStatement {
  domain: Domain;
  metric: string;
  text: string;
}

const LATEST_GROUP = ['hub', 'site', 'sensor', 'kind'].map(quoteIdent).join(',');

/**
 * The statements answering `latest(filter)`: per catalogue metric of each selected domain,
 * `SELECT last("m") AS "value" FROM "domain" WHERE … GROUP BY "hub","site","sensor","kind"`
 * (plus `"species"` for biodiversity, which a single selector returns from the same point).
 * `bound.since` (an InfluxQL time expression such as `now() - 1d`) limits the statements to recent
 * shards; `bound.sensors` to some sensors. The caller must have checked the filter (`checkLatestFilter`).
 */
export function latestStatements(filter: LatestFilter, retentionPolicy?: string, bound?: { since?: string; sensors?: readonly string[] }): LatestStatement[] {
  const domains = filter.domain ? [filter.domain] : DOMAINS;
  const conds = tagConditions(filter);
  if (bound?.since !== undefined) conds.push(`time >= ${bound.since}`);
  if (bound?.sensors?.length) conds.push(`(${bound.sensors.map((s) => `${quoteIdent('sensor')} = ${quoteString(s)}`).join(' OR ')})`);
  const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
  const out: LatestStatement[] = [];
  for (const domain of domains) {
    for (const def of metricsOf(domain)) {
      const species = domain === 'biodiversity' ? `, ${quoteIdent('species')}` : '';
      out.push({
        domain,
        metric: def.name,
        text: `SELECT last(${quoteIdent(def.name)}) AS ${quoteIdent('value')}${species} FROM ${fromClause(domain, retentionPolicy)}${where} GROUP BY ${LATEST_GROUP}`,
      });
    }
  }
  return out;
}

/**
 * The statement answering `range(q)`: raw points in time order, or epoch-aligned windows
 * (`GROUP BY time(<windowMs>ms) fill(none)`, so empty windows are left out) with the aggregation.
 */
export function rangeStatement(q: NormalizedRange, retentionPolicy?: string): string {
  const conds = [...tagConditions(q), `time >= ${q.from}ms`, `time < ${q.to}ms`];
  const from = fromClause(q.domain, retentionPolicy);
  const where = ` WHERE ${conds.join(' AND ')}`;
  const value = quoteIdent('value');
  const field = quoteIdent(q.metric);
  if (q.windowMs === undefined) return `SELECT ${field} AS ${value} FROM ${from}${where} ORDER BY time ASC LIMIT ${q.limit}`;
  return `SELECT ${q.agg}(${field}) AS ${value} FROM ${from}${where} GROUP BY time(${q.windowMs}ms) fill(none) LIMIT ${q.limit}`;
}

/** The fields of one metric in an aggregate measurement, in {@link AGG_FIELDS} order. */
export const AGG_FIELDS = ['min', 'max', 'sum', 'count', 'last'] as const;
export type AggField = (typeof AGG_FIELDS)[number];

/** Field name of one aggregate of a metric, e.g. `groundwater_level_min`. */
export function aggField(metric: string, f: AggField): string {
  return `${metric}_${f}`;
}

/** Aggregate measurement of a domain: `water_1h`, `water_1d`. */
export function aggMeasurement(domain: Domain, tier: '1h' | '1d'): string {
  return `${domain}_${tier}`;
}

/** Daily species counts per hub and site. */
export const SPECIES_MEASUREMENT = 'species_1d';

const SERIES_GROUP = ['hub', 'site', 'sensor', 'kind'].map(quoteIdent).join(',');

/**
 * Summarises `[from, to)` of a domain into hourly buckets per series: for each catalogue metric
 * min, max, sum, count and last, named `<metric>_<agg>`.
 */
export function hourlyDownsampleStatement(domain: Domain, from: number, to: number, retentionPolicy?: string): string {
  const cols = metricsOf(domain).flatMap((def) => AGG_FIELDS.map((f) => `${f}(${quoteIdent(def.name)}) AS ${quoteIdent(aggField(def.name, f))}`));
  return `SELECT ${cols.join(', ')} FROM ${fromClause(domain, retentionPolicy)} WHERE time >= ${from}ms AND time < ${to}ms GROUP BY time(1h), ${SERIES_GROUP} fill(none)`;
}

/** Summarises the hourly buckets of `[from, to)` (whole days) into daily ones. */
export function dailyDownsampleStatement(domain: Domain, from: number, to: number, hourlyRp?: string): string {
  const combine: Record<AggField, string> = { min: 'min', max: 'max', sum: 'sum', count: 'sum', last: 'last' };
  const cols = metricsOf(domain).flatMap((def) => AGG_FIELDS.map((f) => `${combine[f]}(${quoteIdent(aggField(def.name, f))}) AS ${quoteIdent(aggField(def.name, f))}`));
  return `SELECT ${cols.join(', ')} FROM ${fromClause(aggMeasurement(domain, '1h'), hourlyRp)} WHERE time >= ${from}ms AND time < ${to}ms GROUP BY time(1d), ${SERIES_GROUP} fill(none)`;
}

/** Biodiversity readings of `[from, to)` with their species and count, per hub and site. */
export function speciesSourceStatement(from: number, to: number, retentionPolicy?: string): string {
  return `SELECT ${quoteIdent('count')}, ${quoteIdent('species')} FROM ${fromClause('biodiversity', retentionPolicy)} WHERE time >= ${from}ms AND time < ${to}ms GROUP BY ${quoteIdent('hub')},${quoteIdent('site')}`;
}

/** The aggregate buckets of one metric of one sensor over `[from, to)`. */
export function aggregateRangeStatement(q: NormalizedRange, tier: '1h' | '1d', retentionPolicy?: string): string {
  const conds = [...tagConditions(q), `time >= ${q.from}ms`, `time < ${q.to}ms`];
  const cols = AGG_FIELDS.map((f) => quoteIdent(aggField(q.metric, f))).join(', ');
  return `SELECT ${cols} FROM ${fromClause(aggMeasurement(q.domain, tier), retentionPolicy)} WHERE ${conds.join(' AND ')} ORDER BY time ASC`;
}

/** Daily species counts over `[from, to)`. */
export function speciesCountsStatement(q: { hub?: string | undefined; site?: string | undefined; from: number; to: number }, retentionPolicy?: string): string {
  const conds = tagConditions(q);
  if (q.site !== undefined) conds.push(`${quoteIdent('site')} = ${quoteString(q.site)}`);
  conds.push(`time >= ${q.from}ms`, `time < ${q.to}ms`);
  return `SELECT ${['species', 'detections', 'individuals'].map(quoteIdent).join(', ')} FROM ${fromClause(SPECIES_MEASUREMENT, retentionPolicy)} WHERE ${conds.join(' AND ')} GROUP BY ${quoteIdent('hub')},${quoteIdent('site')}`;
}

/** `SHOW SERIES` of the selected domains (the index answers it; its cost does not grow with time kept). */
export function showSeriesStatements(filter: LatestFilter, retentionPolicy?: string): Array<{ domain: Domain; text: string }> {
  const domains = filter.domain ? [filter.domain] : DOMAINS;
  const conds = tagConditions(filter);
  const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
  return domains.map((domain) => ({ domain, text: `SHOW SERIES FROM ${fromClause(domain, retentionPolicy)}${where}` }));
}
