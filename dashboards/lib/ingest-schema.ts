/**
 * The storage schema ingest actually writes, derived from the code that writes it rather than
 * restated: the reading measurements from the metric catalogue (core/catalogue.ts) serialised by
 * storage/lineprotocol.ts, the `pipeline` measurement from the self-telemetry writer
 * (telemetry/writer.ts) serialised the same way, and the `alerts` measurement from
 * {@link ALERTS_SCHEMA}. A rename in any of them changes this schema, and the dashboards' tests
 * then name the panel that lost its data.
 */
import { ATTRIBUTES, metricsOf } from '../../core/catalogue.ts';
import { REJECTION_CODES } from '../../core/errors.ts';
import { DOMAINS, type Domain } from '../../core/ids.ts';
import { alertsToPoints, EVALUATIONS_MEASUREMENT, evaluationsToPoints, pipelineToPoints, toLine, toPoint } from '../../storage/index.ts';
import type { PipelinePoint, ReadingStore, StoredReading } from '../../core/store.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { createTelemetryWriter } from '../../telemetry/writer.ts';
import { ALERTS_SCHEMA } from './alerts-schema.ts';
import type { KnownSchema } from './influxql.ts';

/** Measurement, tag keys and field keys of one line of line protocol (names only; values skipped). */
export function parseLineKeys(line: string): { measurement: string; tags: string[]; fields: string[] } {
  // Split on unescaped, unquoted spaces: measurement+tags, fields, timestamp.
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && i + 1 < line.length) {
      cur += c + (line[++i] as string);
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ' ' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  const splitUnescaped = (s: string, sep: string): string[] => {
    const out: string[] = [];
    let acc = '';
    let q = false;
    for (let i = 0; i < s.length; i++) {
      const c = s[i] as string;
      if (c === '\\' && i + 1 < s.length) {
        acc += s[++i];
        continue;
      }
      if (c === '"') q = !q;
      if (c === sep && !q) {
        out.push(acc);
        acc = '';
      } else acc += c;
    }
    out.push(acc);
    return out;
  };
  const [series = '', fieldSet = ''] = parts;
  const [measurement = '', ...tagPairs] = splitUnescaped(series, ',');
  const key = (pair: string): string => (splitUnescaped(pair, '=')[0] ?? '').trim();
  return { measurement, tags: tagPairs.map(key), fields: splitUnescaped(fieldSet, ',').map(key) };
}

/** A stored reading of `domain` carrying everything one can carry: every non-personal metric and attribute, species, location, policy. */
function maximalReading(domain: Domain): StoredReading {
  const metrics: Record<string, number> = {};
  // Personal metrics (one household's load) never pass the privacy boundary into storage.
  for (const d of metricsOf(domain)) if (!d.personal) metrics[d.name] = d.min;
  const attributes: Record<string, string | number | boolean> = {};
  for (const [name, a] of Object.entries(ATTRIBUTES)) {
    // Personal attributes never pass the privacy boundary, so storage never holds them.
    if (a.personal) continue;
    attributes[name] = a.type === 'string' ? 'x' : a.type === 'number' ? 1 : true;
  }
  return { hub: 'h', domain, sensor: 's', site: 'x', kind: 'k', ts: 0, seq: 1, metrics, species: 'x', location: { lat: 0, lon: 0 }, policy: 'p', attributes };
}

/**
 * Fields and tags of the `pipeline` measurement, from the real telemetry writer: every metric
 * it reads is exercised (one rejection per code), one snapshot is taken and serialised.
 */
export async function pipelineSchema(): Promise<{ tags: Set<string>; fields: Set<string> }> {
  const metrics = createMetrics();
  metrics.readingsAccepted.inc({ hub: 'h', domain: 'water' });
  for (const code of Object.keys(REJECTION_CODES)) metrics.readingsRejected.inc({ code });
  metrics.readingsStored.inc({ store: 'influxdb-v1' });
  metrics.spoolDepth.set(1);
  metrics.connectedClients.set(1);
  metrics.storageWriteSeconds.observe({ store: 'influxdb-v1', outcome: 'ok' }, 0.01);
  metrics.endToEndSeconds.observe(0.1);
  const captured: PipelinePoint[] = [];
  // A capturing store: only writePipeline is called by the writer (a double; the writer is real).
  const store = {
    writePipeline: async (points: PipelinePoint[]) => void captured.push(...points),
  } as unknown as ReadingStore;
  const writer = createTelemetryWriter({ metrics, store, role: 'ingest', hub: 'h', clock: { now: () => 0 } });
  await writer.flush();
  const tags = new Set<string>();
  const fields = new Set<string>();
  for (const p of pipelineToPoints(captured)) {
    const k = parseLineKeys(toLine(p));
    k.tags.forEach((t) => tags.add(t));
    k.fields.forEach((f) => fields.add(f));
  }
  // The writer may also tag a point with `kind` (core/store.ts PipelinePoint).
  tags.add('kind');
  return { tags, fields };
}

/** Tags and fields of one reading measurement, from a maximal reading serialised by storage/lineprotocol.ts. */
export function readingSchema(domain: Domain): { tags: Set<string>; fields: Set<string> } {
  const k = parseLineKeys(toLine(toPoint(maximalReading(domain))));
  if (k.measurement !== domain) throw new Error(`lineprotocol writes ${domain} readings to ${k.measurement}`);
  return { tags: new Set(k.tags), fields: new Set(k.fields) };
}

/** Tags and fields of the `alerts` measurement, from an alert transition serialised by storage/lineprotocol.ts. */
export function alertsSchema(): { tags: Set<string>; fields: Set<string> } {
  const [point] = alertsToPoints([{ ts: Date.UTC(2026, 0, 1), hub: 'demo', rule: 'r', subject: 's', severity: 'warning', kind: 'threshold', state: 'firing', value: 1, message: 'm' }]);
  const k = parseLineKeys(toLine(point!));
  if (k.measurement !== ALERTS_SCHEMA.measurement) throw new Error(`lineprotocol writes alerts to ${k.measurement}`);
  return { tags: new Set(k.tags), fields: new Set(k.fields) };
}

/** Every measurement ingest, the telemetry writer and the rules engine write, with its tags and fields. */
/**
 * Tags and fields of `rule_evaluations`, from an evaluation serialised by storage/lineprotocol.ts.
 * Its fields are the rule kinds' numeric facts: those of a depletion evaluation (rules/kinds/
 * depletion.ts; tests/dashboards-influx.test.ts runs the real engine and reads them back).
 */
export function evaluationsSchema(): { tags: Set<string>; fields: Set<string> } {
  const fields = { value: 12, level: 41, floor: 39, ratePerDay: -0.1, horizonDays: 60, points: 72, r2: 0.9, daysToFloor: 12 };
  const [point] = evaluationsToPoints([{ ts: Date.UTC(2026, 0, 1), hub: 'demo', rule: 'r', subject: 's', kind: 'depletion', fields }]);
  const k = parseLineKeys(toLine(point!));
  if (k.measurement !== EVALUATIONS_MEASUREMENT) throw new Error(`lineprotocol writes rule evaluations to ${k.measurement}`);
  return { tags: new Set(k.tags), fields: new Set(k.fields) };
}

export async function ingestSchema(): Promise<KnownSchema> {
  const schema: Record<string, { tags: ReadonlySet<string>; fields: ReadonlySet<string> }> = {};
  for (const d of DOMAINS) schema[d] = readingSchema(d);
  schema.pipeline = await pipelineSchema();
  schema[ALERTS_SCHEMA.measurement] = alertsSchema();
  schema[EVALUATIONS_MEASUREMENT] = evaluationsSchema();
  return schema;
}
