/**
 * Open data and the privacy policy, served inside `/api/v1` when the API is given the policy in
 * force (`services.policy`; after the rate limiter, so the public routes are limited per address
 * like every unauthenticated request):
 *
 * - `GET /privacy/policy`: the active policy explained in plain language for residents, with the
 *   machine-readable policy (`?format=text` for plain text).
 * - `GET /public/readings/latest` and `GET /public/readings`: open data, no authentication. They
 *   read the store, which holds only filtered records; personal metrics are refused on top.
 */
import fp from 'fastify-plugin';
import { z } from 'zod';
import { metricDef } from '../../../core/catalogue.ts';
import type { LatestFilter } from '../../../core/store.ts';
import { latestReadingSchema, seriesSchema } from '../../../core/views.ts';
import { explainPolicy, explanationText } from '../../../privacy/index.ts';
import { ApiError, invalidParameter } from '../../errors.ts';
import { autoResolution, latestQuerySchema, MAX_POINTS, rangeQuerySchema } from '../../schemas.ts';
import type { ZodTypeProvider } from '../../zod.ts';
import { rangeOf, readSeries } from '../readings/series.ts';

const DAY_MS = 86_400_000;

const policyRef = z.object({
  version: z.string().describe('policy version now in force'),
  explanation: z.string().describe('where the policy is explained'),
});

const policyResponse = z.object({
  version: z.string(),
  title: z.string(),
  summary: z.string(),
  sections: z.array(z.object({ topic: z.string(), text: z.string() })),
  policy: z.record(z.string(), z.unknown()).describe('the policy file as validated (machine-readable)'),
  effective: z.record(z.string(), z.unknown()).describe('every attribute and metric of every domain with the rule that applies to it'),
});

const iso = (ts: number): string => new Date(ts).toISOString();
const EXPLANATION_URL = '/api/v1/privacy/policy';

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const { store, clock } = app.steward;
    const policy = app.policy;
    const ref = (): z.infer<typeof policyRef> => ({ version: policy.current().version, explanation: EXPLANATION_URL });
    // The explanation of one compiled policy never changes: compute it once per version.
    let cached: { key: object; value: ReturnType<typeof explainPolicy> } | undefined;
    const explanation = (): ReturnType<typeof explainPolicy> => {
      const p = policy.current();
      if (cached?.key !== p) cached = { key: p, value: explainPolicy(p) };
      return cached.value;
    };

    r.get(
      '/privacy/policy',
      {
        schema: {
          summary: 'The privacy policy in force, in plain language and machine-readable',
          description: 'What this hub publishes, what it keeps private and how. Every published record carries the policy version in `policy`.',
          tags: ['privacy'],
          querystring: z.strictObject({ format: z.enum(['json', 'text']).optional().describe('text: plain text for reading') }),
          response: { 200: policyResponse },
        },
      },
      async (request, reply) => {
        const e = explanation();
        if (request.query.format === 'text') return reply.type('text/plain; charset=utf-8').serializer((x: unknown) => String(x)).send(explanationText(e) as never);
        return e as unknown as z.output<typeof policyResponse>;
      },
    );

    r.get(
      '/public/readings/latest',
      {
        schema: {
          summary: 'Open data: the newest value of every sensor and metric (no authentication)',
          description: `Filtered by the privacy policy before it was stored. Rate limited per address. Policy: ${EXPLANATION_URL}`,
          tags: ['open data'],
          querystring: latestQuerySchema,
          response: { 200: z.object({ policy: policyRef, readings: z.array(latestReadingSchema) }) },
        },
      },
      async (request) => {
        const filter: LatestFilter = {};
        const { hub, domain, sensor } = request.query;
        if (hub) filter.hub = hub;
        if (domain) filter.domain = domain;
        if (sensor) filter.sensor = sensor;
        const entries = (await store.latest(filter)).filter((e) => {
          // Defence in depth: the store is filtered, but a personal or unknown metric never leaves here.
          const def = metricDef(e.metric);
          return def !== undefined && !def.personal;
        });
        entries.sort((a, b) => a.hub.localeCompare(b.hub) || a.sensor.localeCompare(b.sensor) || a.metric.localeCompare(b.metric));
        return { policy: ref(), readings: entries.map((e) => ({ ...e, time: iso(e.ts) })) };
      },
    );

    r.get(
      '/public/readings',
      {
        schema: {
          summary: 'Open data: one metric of one sensor over time, raw or aggregated into windows (no authentication)',
          description: `At most ${MAX_POINTS} points per answer; the default range is the last 24 h. Windowed ranges over 7 days are answered from the hourly or daily aggregates kept for years (\`resolution\`). Personal metrics are never served. Policy: ${EXPLANATION_URL}`,
          tags: ['open data'],
          querystring: rangeQuerySchema,
          response: { 200: z.object({ policy: policyRef, ...seriesSchema.shape }) },
        },
      },
      async (request) => {
        const q = request.query;
        const def = metricDef(q.metric);
        if (!def) throw invalidParameter('metric', `unknown metric ${JSON.stringify(q.metric)}; see /api/v1/catalogue`);
        if (def.personal) throw invalidParameter('metric', `${q.metric} is personal and never published; see ${EXPLANATION_URL}`);
        const { from, to } = rangeOf(q, clock.now(), DAY_MS);
        if (q.agg && q.window === undefined) throw invalidParameter('agg', 'needs a "window" (e.g. window=5m)');
        const rawMs = store.rawRetentionMs;
        // Only windowed answers come from the aggregates: without a window the answer is raw points.
        const resolution = q.window === undefined ? 'raw' : autoResolution(from, to, q.window, rawMs === undefined ? undefined : clock.now() - rawMs);
        const series = await readSeries(store, { hub: q.hub, sensor: q.sensor, metric: q.metric, unit: def.unit, from, to, windowMs: q.window, agg: q.agg, limit: q.limit ?? MAX_POINTS, resolution });
        if (!series.points.length) {
          const known = (await store.latest(q.hub ? { hub: q.hub, sensor: q.sensor } : { sensor: q.sensor })).length > 0;
          if (!known) throw new ApiError('API_ERR_NOT_FOUND', `no open data for sensor "${q.sensor}"${q.hub ? ` of hub "${q.hub}"` : ''}; see /api/v1/public/readings/latest`, { parameter: 'sensor' });
        }
        return { policy: ref(), ...series };
      },
    );
  },
  { name: 'steward-route-public', dependencies: ['steward-context', 'steward-zod', 'steward-errors'], decorators: { fastify: ['policy'] }, encapsulate: true },
);
