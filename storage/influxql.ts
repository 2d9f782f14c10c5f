/**
 * InfluxQL for the reads of the InfluxDB store. InfluxQL is answered by InfluxDB 1.x, 2.x (through
 * a DBRP mapping) and 3.x on `/query`. Statements are built only from validated ids, catalogue
 * names and numbers, and every identifier and string literal still goes through
 * {@link quoteIdent} / {@link quoteString}.
 */
import { metricsOf } from '../core/catalogue.ts';
import { DOMAINS, type Domain } from '../core/ids.ts';
import type { NormalizedRange } from './queries.ts';
import type { LatestFilter } from './types.ts';

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
 * The caller must have checked the filter (`checkLatestFilter`).
 */
export function latestStatements(filter: LatestFilter, retentionPolicy?: string): LatestStatement[] {
  const domains = filter.domain ? [filter.domain] : DOMAINS;
  const conds = tagConditions(filter);
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
