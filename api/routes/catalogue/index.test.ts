import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../../core/catalogue.ts';
import { makeTestApi, type TestApi } from '../../testing.ts';

describe('contract routes', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await makeTestApi();
  });
  afterAll(() => t.close());

  it('GET /api/v1/catalogue lists every metric with its canonical unit and domain, without a token', async () => {
    const r = await t.app.inject('/api/v1/catalogue');
    expect(r.statusCode).toBe(200);
    const body = r.json() as { domains: string[]; metrics: Array<{ name: string; unit: string; domain: string; personal: boolean }>; attributes: Array<{ name: string; personal: boolean }> };
    expect(body.domains).toEqual(['water', 'soil', 'energy', 'biodiversity']);
    expect(body.metrics).toHaveLength(Object.keys(METRICS).length);
    expect(body.metrics.find((m) => m.name === 'discharge')).toMatchObject({ unit: 'm3/s', domain: 'water', personal: false });
    expect(body.metrics.find((m) => m.name === 'household_power')).toMatchObject({ unit: 'W', personal: true });
    expect(body.attributes.find((a) => a.name === 'observer_name')).toMatchObject({ personal: true });
  });

  it('GET /api/v1/schema/reading.json is the JSON Schema of the native reading', async () => {
    const r = await t.app.inject('/api/v1/schema/reading.json');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/schema\+json/);
    const s = r.json();
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(s.type).toBe('object');
    expect(s.required).toEqual(['ts', 'seq', 'metrics']);
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.metrics.propertyNames.enum).toContain('groundwater_level');
    expect(s.properties.attributes.propertyNames.enum).toContain('firmware');
  });

  it('GET /api/v1/schema/senml-pack.json is the JSON Schema of a SenML pack', async () => {
    const s = (await t.app.inject('/api/v1/schema/senml-pack.json')).json();
    expect(s).toMatchObject({ type: 'array', minItems: 1, items: { type: 'object' } });
  });
});
