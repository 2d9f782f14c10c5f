/**
 * Scenario: someone renames a field, a tag or a measurement in ingest. Every measurement, field and
 * tag a dashboard query names (panels, variables, annotations) must exist in the storage schema as
 * ingest writes it, derived from the code that writes it (catalogue + line protocol, telemetry
 * writer, alerts schema), so the rename fails here, naming the panel, instead of leaving it empty.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { metricDef } from '../core/catalogue.ts';
import { type KnownSchema, checkRefs, extractQueryRefs } from '../dashboards/lib/influxql.ts';
import { ingestSchema } from '../dashboards/lib/ingest-schema.ts';
import { dashboardQueries } from '../dashboards/lib/walk.ts';
import { JSON_DIR } from '../dashboards/src/build.ts';

const files = readdirSync(JSON_DIR).filter((f) => f.endsWith('.json'));
const load = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(JSON_DIR, file), 'utf8')) as Record<string, unknown>;

let schema: KnownSchema;

beforeAll(async () => {
  schema = await ingestSchema();
});

/** Every problem of every query of a dashboard, prefixed with where it is. */
function orphans(d: Record<string, unknown>, s: KnownSchema): string[] {
  return dashboardQueries(d).flatMap((q) => checkRefs(extractQueryRefs(q.query), s).map((p) => `${q.dashboard} / ${q.kind} "${q.where}": ${p}`));
}

describe.each(files)('%s', (file) => {
  it('names only measurements, fields and tags that ingest writes', () => {
    expect(orphans(load(file), schema)).toEqual([]);
  });

  it('never reads a personal metric (household loads appear only as privacy aggregates)', () => {
    const personal = dashboardQueries(load(file)).flatMap((q) =>
      extractQueryRefs(q.query)
        .refs.filter((r) => metricDef(r.name)?.personal)
        .map((r) => `${q.where}: ${r.name}`),
    );
    expect(personal).toEqual([]);
  });
});

describe('a rename in ingest orphans the panels that used the old name', () => {
  /** The schema with one field of `measurement` renamed. */
  const renamedField = (measurement: string, from: string, to: string): KnownSchema => {
    const m = schema[measurement];
    if (!m) throw new Error(`no ${measurement}`);
    return { ...schema, [measurement]: { tags: m.tags, fields: new Set([...m.fields].map((f) => (f === from ? to : f))) } };
  };

  it('groundwater_level → aquifer_head breaks the aquifer panels, by name', () => {
    const found = orphans(load('watershed.json'), renamedField('water', 'groundwater_level', 'aquifer_head'));
    expect(found).toContain('Watershed / panel "Aquifer level against its safe minimum": field "groundwater_level" does not exist in measurement "water"');
  });

  it("rule_evaluations ratePerDay → rate breaks the trend panel that shows the depletion rule's fit", () => {
    const found = orphans(load('watershed.json'), renamedField('rule_evaluations', 'ratePerDay', 'rate'));
    expect(found).toEqual([`Watershed / panel "Level trend (the alert's fit)": field "ratePerDay" does not exist in measurement "rule_evaluations"`]);
  });

  it('a renamed rejection counter breaks the rejections panel', () => {
    const found = orphans(load('pipeline-health.json'), renamedField('pipeline', 'rejected_schema', 'rejected_invalid_schema'));
    expect(found).toEqual(['Pipeline health / panel "Rejections by reason": field "rejected_schema" does not exist in measurement "pipeline"']);
  });

  it('a renamed tag breaks every variable and panel filtering on it', () => {
    const s = schema.soil;
    if (!s) throw new Error('no soil');
    const renamed: KnownSchema = { ...schema, soil: { fields: s.fields, tags: new Set([...s.tags].map((t) => (t === 'site' ? 'plot' : t))) } };
    const found = orphans(load('soil-carbon.json'), renamed);
    expect(found).toContain('Soil carbon / variable "site": tag "site" does not exist in measurement "soil"');
    expect(found.some((p) => p.includes('panel "Soil moisture"'))).toBe(true);
  });

  it('a renamed measurement breaks everything that reads it', () => {
    const { energy, ...rest } = schema;
    const found = orphans(load('energy.json'), { ...rest, power: energy as KnownSchema[string] });
    expect(found).toContain('Energy / variable "hub": measurement "energy" is not written by ingest');
  });
});
