/**
 * HTTP routes of the privacy boundary, as a fastify plugin the API registers in its `/api/v1`
 * scope (after the rate limiter, so the public routes are limited per address like every
 * unauthenticated request):
 *
 * - `GET /privacy/policy`: the active policy explained in plain language for residents, with the
 *   machine-readable policy (`?format=text` for plain text).
 * - `GET /public/readings/latest` and `GET /public/readings`: open data, no authentication. They
 *   read the store, which holds only filtered records; personal metrics are refused on top.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { metricDef } from '../core/catalogue.ts';
import { ApiError, invalidParameter } from '../api/errors.ts';
import { definePlugin } from '../api/plugin.ts';
import { MAX_POINTS, aggParam, autoResolution, formatWindow, latestQuerySchema, latestSchema, pointSchema, rangeQuerySchema } from '../api/schemas.ts';
import type { ZodTypeProvider } from '../api/zod.ts';
import type { LatestFilter, RangeQuery, ReadingStore } from '../core/store.ts';
import { explainPolicy, explanationText } from './explain.ts';
import type { PolicySource } from './policy.ts';

/** What the routes need; the store defaults to the API context's. */
export interface PrivacyRoutesDeps {
  /** The policy in force (the watcher, or `fixedPolicy`). */
  policy: PolicySource;
  /** Store to read open data from (default: `app.steward.store`). */
  store?: ReadingStore;
}

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

/**
 * The plugin. Register it inside the `/api/v1` scope:
 * `await v1.register(privacyRoutes({ policy: watcher }))`.
 */
export function privacyRoutes(deps: PrivacyRoutesDeps): FastifyPluginAsync {
  return definePlugin(
    async (app) => {
      const r = app.withTypeProvider<ZodTypeProvider>();
      const store = (): ReadingStore => deps.store ?? app.steward.store;
      const clock = (): number => app.steward.clock.now();
      const ref = (): z.infer<typeof policyRef> => ({ version: deps.policy.current().version, explanation: EXPLANATION_URL });
      // The explanation of one compiled policy never changes: compute it once per version.
      let cached: { key: object; value: ReturnType<typeof explainPolicy> } | undefined;
      const explanation = (): ReturnType<typeof explainPolicy> => {
        const p = deps.policy.current();
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
          return e as unknown as z.input<typeof policyResponse>;
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
            response: { 200: z.object({ policy: policyRef, readings: z.array(latestSchema) }) },
          },
        },
        async (request) => {
          const filter: LatestFilter = {};
          const { hub, domain, sensor } = request.query;
          if (hub) filter.hub = hub;
          if (domain) filter.domain = domain;
          if (sensor) filter.sensor = sensor;
          const entries = (await store().latest(filter)).filter((e) => {
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
            response: {
              200: z.object({
                policy: policyRef,
                hub: z.string().nullable(),
                sensor: z.string(),
                metric: z.string(),
                unit: z.string(),
                from: z.number().int(),
                fromTime: z.string(),
                to: z.number().int(),
                toTime: z.string(),
                window: z.string().nullable(),
                agg: aggParam.nullable(),
                resolution: z.enum(['raw', '1h', '1d']).describe('raw readings, or the hourly or daily aggregates'),
                truncated: z.boolean(),
                points: z.array(pointSchema),
              }),
            },
          },
        },
        async (request) => {
          const q = request.query;
          const def = metricDef(q.metric);
          if (!def) throw invalidParameter('metric', `unknown metric ${JSON.stringify(q.metric)}; see /api/v1/catalogue`);
          if (def.personal) throw invalidParameter('metric', `${q.metric} is personal and never published; see ${EXPLANATION_URL}`);
          const to = q.to ?? clock();
          const from = q.from ?? to - DAY_MS;
          if (from >= to) throw invalidParameter(q.from === undefined ? 'to' : 'from', `"from" (${iso(from)}) must be before "to" (${iso(to)})`);
          if (q.agg && q.window === undefined) throw invalidParameter('agg', 'needs a "window" (e.g. window=5m)');
          if (q.window !== undefined && (to - from) / q.window > MAX_POINTS)
            throw invalidParameter('window', `${Math.ceil((to - from) / q.window)} windows between "from" and "to"; at most ${MAX_POINTS}: widen the window or narrow the range`);
          const limit = q.limit ?? MAX_POINTS;
          const rawMs = store().rawRetentionMs;
          // Only windowed answers come from the aggregates: without a window the answer is raw points.
          const resolution = q.window === undefined ? 'raw' : autoResolution(from, to, q.window, rawMs === undefined ? undefined : clock() - rawMs);
          const rq: RangeQuery = { sensor: q.sensor, metric: q.metric, from, to, limit: limit + 1, resolution };
          if (q.hub) rq.hub = q.hub;
          if (q.window !== undefined) {
            rq.windowMs = q.window;
            rq.agg = q.agg ?? 'mean';
          }
          const points = await store().range(rq);
          if (!points.length) {
            const known = (await store().latest(q.hub ? { hub: q.hub, sensor: q.sensor } : { sensor: q.sensor })).length > 0;
            if (!known) throw new ApiError('API_ERR_NOT_FOUND', `no open data for sensor "${q.sensor}"${q.hub ? ` of hub "${q.hub}"` : ''}; see /api/v1/public/readings/latest`, { parameter: 'sensor' });
          }
          return {
            policy: ref(),
            hub: q.hub ?? null,
            sensor: q.sensor,
            metric: q.metric,
            unit: def.unit,
            from,
            fromTime: iso(from),
            to,
            toTime: iso(to),
            window: rq.windowMs === undefined ? null : formatWindow(rq.windowMs),
            agg: rq.agg ?? null,
            resolution,
            truncated: points.length > limit,
            points: points.slice(0, limit).map((p) => ({ ts: p.ts, time: iso(p.ts), value: p.value })),
          };
        },
      );
    },
    { name: 'steward-route-privacy', dependencies: ['steward-context', 'steward-zod', 'steward-errors'] },
  );
}
