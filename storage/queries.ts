/**
 * Validation and normalisation of read queries, shared by the embedded and the InfluxDB stores so
 * both accept, refuse and order results the same way.
 */
import { metricDef } from '../core/catalogue.ts';
import { type Domain, isDomain, isId } from '../core/ids.ts';
import { RESOLUTION_MS, RESOLUTIONS, type Resolution, type SpeciesQuery } from './aggregates.ts';
import { StorageError } from './errors.ts';
import type { Aggregation, LatestEntry, LatestFilter, RangeQuery } from '../core/store.ts';

/** Points returned by `range` when the query sets no limit. */
export const DEFAULT_RANGE_LIMIT = 10_000;

export const AGGREGATIONS: readonly Aggregation[] = ['mean', 'min', 'max', 'sum', 'last', 'count'];

/** A range query after validation: the metric's domain resolved from the catalogue, defaults applied. */
export interface NormalizedRange {
  hub?: string;
  sensor: string;
  metric: string;
  domain: Domain;
  from: number;
  to: number;
  /** Present: aggregate into epoch-aligned windows of this many ms with `agg`. */
  windowMs?: number;
  agg: Aggregation;
  limit: number;
  resolution: Resolution;
}

function bad(message: string): never {
  throw new StorageError('STORAGE_ERR_INVALID_QUERY', message);
}

/**
 * Checks a `latest` filter: ids must be valid ids and the domain one of the four.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_QUERY`
 */
export function checkLatestFilter(f: LatestFilter): void {
  if (f.hub !== undefined && !isId(f.hub)) bad(`hub ${JSON.stringify(f.hub)} is not a valid id`);
  if (f.sensor !== undefined && !isId(f.sensor)) bad(`sensor ${JSON.stringify(f.sensor)} is not a valid id`);
  if (f.domain !== undefined && !isDomain(f.domain)) bad(`domain ${JSON.stringify(f.domain)} is not a domain`);
}

/**
 * Validates a range query and applies defaults: `agg` defaults to `mean` and is only used with
 * `windowMs`; `limit` defaults to {@link DEFAULT_RANGE_LIMIT}.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_QUERY` for a non-id hub or sensor, a metric not in the
 *   catalogue, non-integer times, a window that is not a positive whole number of ms, an unknown
 *   aggregation or a limit that is not a positive integer
 */
export function normalizeRange(q: RangeQuery): NormalizedRange {
  if (q.hub !== undefined && !isId(q.hub)) bad(`hub ${JSON.stringify(q.hub)} is not a valid id`);
  if (!isId(q.sensor)) bad(`sensor ${JSON.stringify(q.sensor)} is not a valid id`);
  const def = typeof q.metric === 'string' ? metricDef(q.metric) : undefined;
  if (!def) bad(`metric ${JSON.stringify(q.metric)} is not in the catalogue`);
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to)) bad('from and to must be integer epoch ms');
  if (q.windowMs !== undefined && (!Number.isSafeInteger(q.windowMs) || q.windowMs <= 0)) bad('windowMs must be a positive whole number of ms');
  const agg = q.agg ?? 'mean';
  if (!AGGREGATIONS.includes(agg)) bad(`agg ${JSON.stringify(q.agg)} is not one of ${AGGREGATIONS.join(', ')}`);
  const limit = q.limit ?? DEFAULT_RANGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit <= 0) bad('limit must be a positive integer');
  const resolution = q.resolution ?? 'raw';
  if (!RESOLUTIONS.includes(resolution)) bad(`resolution ${JSON.stringify(q.resolution)} is not one of ${RESOLUTIONS.join(', ')}`);
  const out: NormalizedRange = { sensor: q.sensor, metric: def.name, domain: def.domain, from: q.from, to: q.to, agg, limit, resolution };
  if (q.hub !== undefined) out.hub = q.hub;
  if (q.windowMs !== undefined) out.windowMs = q.windowMs;
  if (resolution !== 'raw') {
    const step = RESOLUTION_MS[resolution];
    out.windowMs ??= step;
    if (out.windowMs % step !== 0) bad(`windowMs must be a whole number of ${resolution} buckets with resolution ${resolution}`);
  }
  return out;
}

/**
 * Checks a species-count query.
 *
 * @throws StorageError `STORAGE_ERR_INVALID_QUERY`
 */
export function checkSpeciesQuery(q: SpeciesQuery): void {
  if (q.hub !== undefined && !isId(q.hub)) bad(`hub ${JSON.stringify(q.hub)} is not a valid id`);
  if (q.site !== undefined && !isId(q.site)) bad(`site ${JSON.stringify(q.site)} is not a valid id`);
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to)) bad('from and to must be integer epoch ms');
}

/** Orders latest entries by hub, domain, sensor, metric (both stores answer in this order). */
export function sortLatest(entries: LatestEntry[]): LatestEntry[] {
  const key = (e: LatestEntry): string => `${e.hub}\u0000${e.domain}\u0000${e.sensor}\u0000${e.metric}`;
  return entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
