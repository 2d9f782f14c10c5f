/**
 * The contract, public: the metric catalogue with canonical units, and the JSON Schema of the
 * payloads a device may send, generated from the same zod schemas ingest validates with.
 */
import fp from 'fastify-plugin';
import { z } from 'zod';
import { ATTRIBUTES, METRICS } from '../../../core/catalogue.ts';
import { DOMAINS, domainSchema } from '../../../core/ids.ts';
import { readingJsonSchema, senmlJsonSchema } from '../../schemas.ts';
import type { ZodTypeProvider } from '../../zod.ts';

const catalogueSchema = z.object({
  domains: z.array(domainSchema),
  metrics: z.array(
    z.object({
      name: z.string(),
      domain: domainSchema,
      unit: z.string(),
      description: z.string(),
      min: z.number(),
      max: z.number(),
      integer: z.boolean(),
      personal: z.boolean(),
    }),
  ),
  attributes: z.array(z.object({ name: z.string(), description: z.string(), type: z.enum(['string', 'number', 'boolean']), personal: z.boolean() })),
});

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const catalogue = {
      domains: [...DOMAINS],
      metrics: Object.values(METRICS).map((m) => ({ name: m.name, domain: m.domain, unit: m.unit, description: m.description, min: m.min, max: m.max, integer: m.integer === true, personal: m.personal === true })),
      attributes: Object.entries(ATTRIBUTES).map(([name, a]) => ({ name, description: a.description, type: a.type, personal: a.personal })),
    };
    r.get(
      '/catalogue',
      { schema: { summary: 'Metric catalogue: every metric with its canonical unit, range and domain; known attributes', tags: ['contract'], response: { 200: catalogueSchema } } },
      async () => catalogue,
    );

    const schemas = { reading: JSON.stringify(readingJsonSchema(), null, 2), senml: JSON.stringify(senmlJsonSchema(), null, 2) };
    app.get('/schema/reading.json', { schema: { summary: 'JSON Schema of the native reading payload (generated from the zod schema)', tags: ['contract'] } }, async (_q, reply) =>
      reply.type('application/schema+json; charset=utf-8').send(schemas.reading),
    );
    app.get('/schema/senml-pack.json', { schema: { summary: 'JSON Schema of a SenML JSON pack as ingest accepts it', tags: ['contract'] } }, async (_q, reply) =>
      reply.type('application/schema+json; charset=utf-8').send(schemas.senml),
    );
  },
  { name: 'steward-route-catalogue', dependencies: ['steward-zod'], encapsulate: true },
);
