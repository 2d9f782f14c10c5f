import { describe, expect, it } from 'vitest';
import { metricsOf } from '../../core/catalogue.ts';
import { REJECTION_CODES } from '../../core/errors.ts';
import { DOMAINS } from '../../core/ids.ts';
import { ingestSchema, parseLineKeys, pipelineSchema, readingSchema } from './ingest-schema.ts';

describe('parseLineKeys', () => {
  it('reads measurement, tag keys and field keys, skipping escaped and quoted separators', () => {
    expect(parseLineKeys('water,hub=demo,site=a\\ b seq=1,species="a, b=c d",note="x" 1000')).toEqual({
      measurement: 'water',
      tags: ['hub', 'site'],
      fields: ['seq', 'species', 'note'],
    });
  });
});

describe('readingSchema (catalogue + storage/lineprotocol.ts)', () => {
  it('every domain: tags hub, site, sensor, kind; every non-personal metric of the domain and the reading fields', () => {
    for (const d of DOMAINS) {
      const s = readingSchema(d);
      expect([...s.tags].sort()).toEqual(['hub', 'kind', 'sensor', 'site']);
      for (const m of metricsOf(d)) expect(s.fields.has(m.name), `${d}.${m.name}`).toBe(!m.personal);
      for (const f of ['seq', 'species', 'lat', 'lon', 'policy', 'attr_battery_v']) expect(s.fields.has(f), `${d}.${f}`).toBe(true);
    }
  });

  it('never personal data: no household load, no observer or household attributes', () => {
    const energy = readingSchema('energy');
    expect(energy.fields.has('household_power')).toBe(false);
    for (const d of DOMAINS) {
      for (const f of ['attr_observer_name', 'attr_observer_email', 'attr_household_id', 'attr_note']) expect(readingSchema(d).fields.has(f)).toBe(false);
    }
  });
});

describe('pipelineSchema (telemetry/writer.ts)', () => {
  it('tags role and hub; a rejected_<code> field per rejection code and the gauges', async () => {
    const s = await pipelineSchema();
    expect(s.tags.has('role') && s.tags.has('hub')).toBe(true);
    for (const code of Object.keys(REJECTION_CODES)) expect(s.fields.has(`rejected_${code}`), code).toBe(true);
    for (const f of ['readings_accepted', 'readings_rejected', 'readings_stored', 'spool_depth', 'connected_devices', 'write_latency_ms', 'publish_to_stored_ms', 'rss_bytes']) {
      expect(s.fields.has(f), f).toBe(true);
    }
  });
});

describe('ingestSchema', () => {
  it('has the four commons, pipeline, alerts and rule evaluations', async () => {
    expect(Object.keys(await ingestSchema()).sort()).toEqual(['alerts', 'biodiversity', 'energy', 'pipeline', 'rule_evaluations', 'soil', 'water']);
  });
});
