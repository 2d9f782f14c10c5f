/**
 * Readings: the newest value of every sensor and metric, and one metric of one sensor over time
 * (raw, or aggregated into windows). Values are in the catalogue's canonical units and have
 * already passed the privacy boundary. Readable without a token; a token limited to hubs sees only
 * those hubs (403 for another).
 */
import fp from 'fastify-plugin';
import { z } from 'zod';
import { metricDef } from '../../../core/catalogue.ts';
import { assertHub, hubsOf, queryHub } from '../../auth.ts';
import { invalidParameter, ApiError } from '../../errors.ts';
import { latestReadingSchema, seriesSchema, speciesCountSchema } from '../../../core/views.ts';
import { autoResolution, latestQuerySchema, MAX_POINTS, readingsRangeQuerySchema, speciesQuerySchema } from '../../schemas.ts';
import { rangeOf, readSeries } from './series.ts';
import type { ZodTypeProvider } from '../../zod.ts';
import type { LatestFilter } from '../../../core/store.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const iso = (ts: number): string => new Date(ts).toISOString();

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const { store, registry, clock } = app.steward;

    r.get(
      '/readings/latest',
      {
        schema: {
          summary: 'Newest value of every sensor and metric',
          tags: ['data'],
          querystring: latestQuerySchema,
          response: { 200: z.object({ readings: z.array(latestReadingSchema) }) },
        },
      },
      async (request) => {
        const filter: LatestFilter = {};
        const { hub, domain, sensor } = request.query;
        if (hub) {
          assertHub(request, hub, 'the hub asked for');
          filter.hub = hub;
        }
        if (domain) filter.domain = domain;
        if (sensor) filter.sensor = sensor;
        const hubs = hubsOf(request);
        const entries = (await store.latest(filter)).filter((e) => !hubs || hubs.includes(e.hub));
        entries.sort((a, b) => a.hub.localeCompare(b.hub) || a.sensor.localeCompare(b.sensor) || a.metric.localeCompare(b.metric));
        return { readings: entries.map((e) => ({ ...e, time: iso(e.ts) })) };
      },
    );

    r.get(
      '/readings/species',
      {
        schema: {
          summary: 'Species seen per site and day (daily counts kept for years)',
          description: 'From the biodiversity readings: per hub, site, species and UTC day, how many readings detected the species and how many individuals they counted. Kept as long as the daily aggregates (storage.aggregates.dailyDays).',
          tags: ['data'],
          querystring: speciesQuerySchema,
          response: { 200: z.object({ from: z.number(), to: z.number(), counts: z.array(speciesCountSchema) }) },
        },
      },
      async (request) => {
        const q = request.query;
        const hub = queryHub(request, q.hub, 'the hub asked for');
        const { from, to } = rangeOf(q, clock.now(), 365 * DAY_MS);
        const query: Parameters<typeof store.speciesCounts>[0] = { from, to };
        if (hub) query.hub = hub;
        if (q.site) query.site = q.site;
        const counts = await store.speciesCounts(query);
        return { from, to, counts: counts.map((c) => ({ ...c, date: iso(c.day).slice(0, 10) })) };
      },
    );

    r.get(
      '/readings',
      {
        schema: {
          summary: 'One metric of one sensor over time, raw or aggregated into windows',
          description: `At most ${MAX_POINTS} points or windows per answer. Times are ISO 8601 or epoch ms; the default range is the last 24 h. Long ranges are answered from hourly or daily aggregates kept for years (\`resolution\` in the answer says which).`,
          tags: ['data'],
          querystring: readingsRangeQuerySchema,
          response: { 200: seriesSchema },
        },
      },
      async (request) => {
        // A token limited to hubs: its one hub by default, and no other.
        const q = { ...request.query, hub: queryHub(request, request.query.hub, 'the hub asked for') };
        const { from, to } = rangeOf(q, clock.now(), DAY_MS);
        const asked = q.resolution ?? 'auto';
        if (q.agg && q.window === undefined && (asked === 'auto' || asked === 'raw')) throw invalidParameter('agg', 'needs a "window" (e.g. window=5m)');
        const rawMs = store.rawRetentionMs;
        const resolution = asked === 'auto' ? autoResolution(from, to, q.window, rawMs === undefined ? undefined : clock.now() - rawMs) : asked;
        const step = resolution === '1h' ? HOUR_MS : resolution === '1d' ? DAY_MS : undefined;
        if (step !== undefined && q.window !== undefined && q.window % step !== 0)
          throw invalidParameter('window', `with resolution ${resolution} the window must be a whole number of ${resolution === '1h' ? 'hours' : 'days'}`);
        const def = metricDef(q.metric);
        if (!def) throw invalidParameter('metric', `unknown metric ${JSON.stringify(q.metric)}; see /api/v1/catalogue`);
        const registered = registry.listSensors(q.hub).filter((s) => s.sensor === q.sensor);
        // Two hubs may both have a "well-1": mixing their series would be silently wrong.
        if (!q.hub && new Set(registered.map((s) => s.hub)).size > 1)
          throw invalidParameter('hub', `sensor "${q.sensor}" exists in hubs ${[...new Set(registered.map((s) => s.hub))].join(', ')}: say which with "hub"`);
        if (registered.length && registered.every((s) => s.domain !== def.domain))
          throw invalidParameter('metric', `${q.metric} is a ${def.domain} metric, but sensor "${q.sensor}" is in domain ${registered[0]?.domain}`);

        const series = await readSeries(store, { hub: q.hub, sensor: q.sensor, metric: q.metric, unit: def.unit, from, to, windowMs: q.window ?? step, agg: q.agg, limit: q.limit ?? MAX_POINTS, resolution });
        if (!series.points.length && !registered.length)
          throw new ApiError('API_ERR_NOT_FOUND', `sensor "${q.sensor}"${q.hub ? ` of hub "${q.hub}"` : ''} is not registered and has no data; see /api/v1/sensors`, { parameter: 'sensor' });
        return series;
      },
    );
  },
  { name: 'steward-route-readings', dependencies: ['steward-context', 'steward-zod', 'steward-errors'], encapsulate: true },
);
