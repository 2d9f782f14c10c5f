/**
 * `/api/v1/rejections`: dead letters, newest first, with the reason and the raw payload. Raw payloads
 * may hold personal data, so only technicians (bearer token with role `technician`) may read them,
 * and a token limited to hubs only those of its hubs.
 */
import fp from 'fastify-plugin';
import { z } from 'zod';
import { queryHub } from '../../auth.ts';
import { ApiError } from '../../errors.ts';
import { rejectionSchema } from '../../../core/views.ts';
import { hubParam, intParam, rejectionCodeParam } from '../../schemas.ts';
import type { ZodTypeProvider } from '../../zod.ts';
import type { DeadLetterQuery } from '../../../storage/index.ts';

const query = z.strictObject({
  hub: hubParam.optional(),
  code: rejectionCodeParam.optional().describe('rejection code (docs/errors.md)'),
  before: intParam(1, Number.MAX_SAFE_INTEGER).optional().describe('only dead letters with an id below this (paging backwards: pass the previous answer\'s `next`)'),
  limit: intParam(1, 1000).optional().describe('most entries (default 100, at most 1000)'),
});

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const { deadLetters } = app.steward;
    r.get(
      '/rejections',
      {
        schema: {
          summary: 'Dead letters: refused messages with their reason and raw payload (technicians only)',
          tags: ['operations'],
          security: [{ bearer: [] }],
          querystring: query,
          response: { 200: z.object({ rejections: z.array(rejectionSchema), next: z.number().int().nullable().describe('pass as `before` for the next page; null at the end') }) },
        },
        onRequest: app.requireRole('technician'),
      },
      async (request) => {
        if (!deadLetters) throw new ApiError('API_ERR_UNAVAILABLE', 'dead letters are not available in this process (run the API with the data dir of ingest)');
        const q: DeadLetterQuery = { limit: request.query.limit ?? 100 };
        // A token limited to hubs reads only their dead letters: name the hub, or have only one.
        const hub = queryHub(request, request.query.hub, 'this dead letter query');
        if (hub) q.hub = hub;
        if (request.query.code) q.code = request.query.code;
        if (request.query.before) q.before = request.query.before;
        const rows = deadLetters.list(q);
        const last = rows.at(-1);
        return {
          rejections: rows.map((d) => ({ ...d, receivedTime: new Date(d.receivedAt).toISOString() })),
          next: rows.length === q.limit && last ? last.id : null,
        };
      },
    );
  },
  { name: 'steward-route-rejections', dependencies: ['steward-context', 'steward-zod', 'steward-auth'], encapsulate: true },
);
