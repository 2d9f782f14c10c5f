/**
 * Liveness and readiness. `/health` answers 200 while the process serves HTTP; `/ready` answers
 * 200 when the broker (if it runs in this process) is up, storage answers `ping()` and the intake
 * acknowledges readings (its spool is not full), else 503 naming the part that is down and why.
 */
import fp from 'fastify-plugin';
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import type { ZodTypeProvider } from '../../zod.ts';

type Check = 'up' | 'down' | 'not in this process';
const checkSchema = z.enum(['up', 'down', 'not in this process']);

const readySchema = z.object({
  status: z.literal('ready'),
  checks: z.object({ broker: checkSchema, storage: checkSchema, intake: checkSchema }),
  /** Readings in the ingest spool not yet in storage (when ingest runs in this process). */
  spoolDepth: z.number().int().optional(),
});

async function pingWithin(ping: () => Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([ping().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const { store, health, readyTimeoutMs } = app.steward;

    r.get(
      '/health',
      { schema: { summary: 'Liveness: the process answers HTTP', tags: ['operations'], response: { 200: z.object({ status: z.literal('ok') }) } } },
      async () => ({ status: 'ok' as const }),
    );

    r.get(
      '/ready',
      {
        schema: {
          summary: 'Readiness: broker up (when in this process) and storage reachable; 503 names the part that is down',
          tags: ['operations'],
          response: { 200: readySchema },
        },
      },
      async () => {
        const broker: Check = health.broker ? (health.broker() ? 'up' : 'down') : 'not in this process';
        const storage: Check = (await pingWithin(() => store.ping(), readyTimeoutMs)) ? 'up' : 'down';
        const spool = health.ingest?.();
        // The intake is down while it holds acknowledgements (spool quota reached, disk full).
        const intake: Check = spool ? (spool.pressure ? 'down' : 'up') : 'not in this process';
        const checks = { broker, storage, intake };
        const extra = spool ? { spoolDepth: spool.spoolDepth } : {};
        const down = Object.entries(checks).filter(([, v]) => v === 'down').map(([k]) => k);
        const why = (d: string): string => (d === 'intake' && spool?.pressure ? `intake is down (${spool.pressure.reason}: ${spool.pressure.message})` : `${d} is down`);
        if (down.length) throw new ApiError('API_ERR_NOT_READY', `not ready: ${down.map(why).join(', ')}`, { extra: { checks, ...extra } });
        return { status: 'ready' as const, checks, ...extra };
      },
    );
  },
  { name: 'steward-route-health', dependencies: ['steward-context', 'steward-zod', 'steward-errors'], encapsulate: true },
);
