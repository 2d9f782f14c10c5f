/**
 * `/api/v1/sensors`: the registered sensors with when each was last heard from and whether it is
 * online (its MQTT status when known, else data within the online window).
 */
import fp from 'fastify-plugin';
import { z } from 'zod';
import { assertHub, hubsOf } from '../../auth.ts';
import { sensorSchema } from '../../../core/views.ts';
import { domainParam, hubParam } from '../../schemas.ts';
import type { ZodTypeProvider } from '../../zod.ts';

const query = z.strictObject({ hub: hubParam.optional(), domain: domainParam.optional() });

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const { registry, store, sensorStatus, clock, onlineWindowMs } = app.steward;
    r.get(
      '/sensors',
      {
        schema: {
          summary: 'Registered sensors, last seen and online state',
          description: `online: from the sensor's MQTT status when known, else a reading within the last ${Math.round(onlineWindowMs / 60_000)} min`,
          tags: ['data'],
          querystring: query,
          response: { 200: z.object({ sensors: z.array(sensorSchema) }) },
        },
      },
      async (request) => {
        const { hub, domain } = request.query;
        if (hub) assertHub(request, hub, 'the hub asked for');
        const hubs = hubsOf(request);
        const sensors = registry.listSensors(hub).filter((s) => (!domain || s.domain === domain) && (!hubs || hubs.includes(s.hub)));
        const filter: { hub?: string; domain?: typeof domain } = {};
        if (hub) filter.hub = hub;
        if (domain) filter.domain = domain;
        const latest = sensors.length ? await store.latest(filter) : [];
        const seen = new Map<string, { ts: number; site: string; kind: string }>();
        for (const e of latest) {
          const k = `${e.hub}.${e.sensor}`;
          const prev = seen.get(k);
          if (!prev || e.ts > prev.ts) seen.set(k, { ts: e.ts, site: e.site, kind: e.kind });
        }
        const states = sensorStatus?.();
        const now = clock.now();
        return {
          sensors: sensors.map((s) => {
            const last = seen.get(s.username);
            const state = states?.get(s.username);
            return {
              hub: s.hub,
              domain: s.domain,
              sensor: s.sensor,
              site: s.site ?? last?.site ?? null,
              kind: s.kind ?? last?.kind ?? null,
              lastSeen: last?.ts ?? null,
              lastSeenTime: last ? new Date(last.ts).toISOString() : null,
              online: state ? state.state === 'online' : last !== undefined && now - last.ts <= onlineWindowMs,
              onlineSource: state ? ('status' as const) : ('recent-data' as const),
            };
          }),
        };
      },
    );
  },
  { name: 'steward-route-sensors', dependencies: ['steward-context', 'steward-zod'], encapsulate: true },
);
