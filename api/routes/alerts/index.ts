/**
 * Alerts and silences, served inside `/api/v1` when the API is given the rules engine
 * (`services.alerts`):
 *
 * ```
 * GET    /api/v1/alerts              ?state=firing,pending&hub=&severity=&rule=&subject=&limit=
 * GET    /api/v1/alerts/:id          one alert with its history
 * POST   /api/v1/alerts/:id/ack      { comment? }                          (role steward)
 * GET    /api/v1/silences            ?status=active|pending|expired|all
 * POST   /api/v1/silences            { matchers, comment, endsAt | duration, startsAt? }  (role steward)
 * DELETE /api/v1/silences/:id        ends a silence now                    (role steward)
 * ```
 * Reading alerts needs no token (alerts carry no personal data; hubs read them; the comments
 * stewards type are scrubbed for readers without a token, privacy/README.md); acknowledging
 * and silencing need a bearer token with role `steward` (`app.requireRole`). A token limited
 * to hubs (`steward tokens add --hub`) sees and acts on only their alerts and silences: 403 for
 * another hub's alert, a silence must name one of its hubs.
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { ALERT_STATES, type AlertFilter, type AlertMessage, type AlertState, SEVERITIES, type SilenceInput, type SilenceWithStatus } from '../../../core/alert.ts';
import { parseDuration } from '../../../core/duration.ts';
import { ID_PATTERN } from '../../../core/ids.ts';
import { alertHistorySchema, alertSchema, silenceMatchersSchema, silenceSchema } from '../../../core/views.ts';
import { scrubForPublic, withPublicAckComment, withPublicHistoryComment } from '../../../privacy/index.ts';
import { assertHub, hubsOf, mayUseHub } from '../../auth.ts';
import { ApiError } from '../../errors.ts';
import type { ZodTypeProvider } from '../../zod.ts';

const idParam = z.string().min(1).max(200).regex(/^[a-z0-9][a-z0-9_.-]*$/, 'must be an alert id like demo.aquifer-depletion.well-1');
const hubParam = z.string().regex(ID_PATTERN, 'must be a hub id');
const statesParam = z
  .string()
  .transform((s, ctx): AlertState[] => {
    const parts = s.split(',').map((p) => p.trim()).filter(Boolean);
    for (const p of parts) {
      if (!(ALERT_STATES as readonly string[]).includes(p)) {
        ctx.addIssue({ code: 'custom', message: `"${p}" is not a state (one of ${ALERT_STATES.join(', ')}; several separated by commas)` });
        return z.NEVER;
      }
    }
    return parts as AlertState[];
  });

/** An alert as a reader without a token sees it: the acknowledgement's comment scrubbed. */
function publicAlert<A extends Pick<AlertMessage, 'acknowledged'>>(a: A, request: FastifyRequest): A {
  return request.principal ? a : withPublicAckComment(a);
}

/** A history entry as a reader without a token sees it: the comment after an ack or a silence scrubbed. */
function publicHistory<H extends { event: string; message: string }>(e: H, request: FastifyRequest): H {
  return request.principal ? e : withPublicHistoryComment(e);
}

function silenceOut(s: SilenceWithStatus, request?: FastifyRequest): z.output<typeof silenceSchema> {
  const out: z.output<typeof silenceSchema> = {
    id: s.id,
    status: s.status,
    matchers: s.matchers,
    createdBy: s.createdBy,
    comment: request && !request.principal ? scrubForPublic(s.comment) : s.comment,
    startsAt: new Date(s.startsAt).toISOString(),
    endsAt: new Date(s.endsAt).toISOString(),
    createdAt: new Date(s.createdAt).toISOString(),
  };
  if (s.expiredAt !== undefined) out.expiredAt = new Date(s.expiredAt).toISOString();
  if (s.expiredBy !== undefined) out.expiredBy = s.expiredBy;
  return out;
}

/** Runs an action of the rules engine; its coded errors become ApiErrors (the API's error handler answers them). */
function act<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    if (code === 'RULES_ERR_NOT_FOUND') throw new ApiError('API_ERR_NOT_FOUND', (e as Error).message, { cause: e });
    if (code === 'RULES_ERR_SILENCE_INVALID') throw new ApiError('API_ERR_VALIDATION', (e as Error).message, { cause: e });
    throw e; // RULES_ERR_NOT_ACKABLE carries statusCode 409
  }
}

function who(request: FastifyRequest): string {
  return request.principal?.name ?? 'unknown';
}

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const engine = app.alerts;
    const write = app.requireRole('steward');
    const tags = ['alerts'];

    r.get(
      '/alerts',
      {
        schema: {
          summary: 'Alerts, firing first (default: every state but inactive)',
          tags,
          querystring: z.strictObject({
            state: statesParam.optional().describe('pending, firing, resolved, inactive; several separated by commas'),
            hub: hubParam.optional(),
            severity: z.enum(SEVERITIES, { error: 'must be info, warning or critical' }).optional(),
            rule: z.string().regex(ID_PATTERN, 'must be a rule id').optional(),
            subject: z.string().regex(ID_PATTERN, 'must be an id').optional(),
            limit: z.coerce.number().int().min(1).max(1000).optional(),
          }),
          response: { 200: z.object({ alerts: z.array(alertSchema) }) },
        },
      },
      async (request) => {
        const q = request.query;
        const f: AlertFilter = {};
        if (q.state) f.state = q.state;
        if (q.hub) assertHub(request, q.hub, 'the hub asked for');
        // A token limited to hubs sees only theirs (the engine filters before the limit).
        const hub = q.hub ?? hubsOf(request);
        if (hub) f.hub = hub;
        if (q.severity) f.severity = q.severity;
        if (q.rule) f.rule = q.rule;
        if (q.subject) f.subject = q.subject;
        if (q.limit) f.limit = q.limit;
        return { alerts: engine.alerts(f).map((a) => publicAlert(a, request)) };
      },
    );

    r.get(
      '/alerts/:id',
      {
        schema: {
          summary: 'One alert with its history (state transitions, acknowledgements, silences), newest first',
          tags,
          params: z.strictObject({ id: idParam }),
          response: { 200: z.object({ alert: alertSchema, history: z.array(alertHistorySchema) }) },
        },
      },
      async (request) => {
        const a = engine.get(request.params.id);
        if (!a) throw new ApiError('API_ERR_NOT_FOUND', `no alert "${request.params.id}"`);
        assertHub(request, a.hub, `alert ${a.id}`);
        const { history, ...alert } = a;
        return { alert: publicAlert(alert, request), history: history.map((e) => publicHistory(e, request)) };
      },
    );

    r.post(
      '/alerts/:id/ack',
      {
        schema: {
          summary: 'Acknowledge a pending or firing alert: no more re-notifications this episode',
          tags,
          security: [{ bearer: [] }],
          params: z.strictObject({ id: idParam }),
          body: z.strictObject({ comment: z.string().max(1000).optional() }).optional(),
          response: { 200: z.object({ alert: alertSchema }) },
        },
        onRequest: write,
      },
      async (request) => {
        const a = engine.get(request.params.id);
        if (a) assertHub(request, a.hub, `alert ${a.id}`);
        return { alert: act(() => engine.ack(request.params.id, who(request), request.body?.comment)) };
      },
    );

    r.get(
      '/silences',
      {
        schema: {
          summary: 'Silences, newest first',
          tags,
          querystring: z.strictObject({ status: z.enum(['active', 'pending', 'expired', 'all'], { error: 'must be active, pending, expired or all' }).optional() }),
          response: { 200: z.object({ silences: z.array(silenceSchema) }) },
        },
      },
      async (request) => ({
        silences: engine
          .silences({ status: request.query.status ?? 'all' })
          .filter((s) => !hubsOf(request) || (s.matchers.hub !== undefined && mayUseHub(request.principal, s.matchers.hub)))
          .map((s) => silenceOut(s, request)),
      }),
    );

    r.post(
      '/silences',
      {
        schema: {
          summary: 'Silence alerts matching rule, hub, subject and severity (`*` wildcard) until a time: they still change state but are not notified',
          tags,
          security: [{ bearer: [] }],
          body: z
            .strictObject({
              matchers: silenceMatchersSchema,
              comment: z.string().min(1, 'say why').max(1000),
              endsAt: z.iso.datetime({ offset: true }).optional(),
              duration: z.string().optional().describe('instead of endsAt: 2h, 3d…'),
              startsAt: z.iso.datetime({ offset: true }).optional(),
            })
            .superRefine((b, ctx) => {
              if (b.duration !== undefined && !parseDuration(b.duration)) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'must be a duration like 2h' });
            }),
          response: { 201: z.object({ silence: silenceSchema }) },
        },
        onRequest: write,
      },
      async (request, reply) => {
        const b = request.body;
        const hubs = hubsOf(request);
        if (hubs && (b.matchers.hub === undefined || !mayUseHub(request.principal, b.matchers.hub)))
          throw new ApiError('API_ERR_FORBIDDEN', `token ${request.principal?.name} is limited to hubs ${hubs.join(', ')}: the silence must match one of them (matchers.hub), not ${b.matchers.hub === undefined ? 'every hub' : `"${b.matchers.hub}"`}`);
        if ((b.endsAt === undefined) === (b.duration === undefined))
          throw new ApiError('API_ERR_VALIDATION', 'body: give exactly one of endsAt (ISO 8601) or duration (e.g. 2h)', { parameter: 'endsAt' });
        const input: SilenceInput = { matchers: b.matchers, comment: b.comment, createdBy: who(request) };
        if (b.endsAt) input.endsAt = Date.parse(b.endsAt);
        else input.durationMs = parseDuration(b.duration as string) as number;
        if (b.startsAt) input.startsAt = Date.parse(b.startsAt);
        return reply.code(201).send({ silence: silenceOut(act(() => engine.addSilence(input))) });
      },
    );

    r.delete(
      '/silences/:id',
      {
        schema: {
          summary: 'End a silence now (it stays listed as expired)',
          tags,
          security: [{ bearer: [] }],
          params: z.strictObject({ id: z.string().uuid('must be a silence id') }),
          response: { 200: z.object({ silence: silenceSchema }) },
        },
        onRequest: write,
      },
      async (request) => {
        if (hubsOf(request)) {
          const s = engine.silences({ status: 'all' }).find((x) => x.id === request.params.id);
          if (s && (s.matchers.hub === undefined || !mayUseHub(request.principal, s.matchers.hub))) assertHub(request, s.matchers.hub ?? '*', `silence ${s.id}`);
        }
        return { silence: silenceOut(act(() => engine.expireSilence(request.params.id, who(request)))) };
      },
    );
  },
  { name: 'steward-route-alerts', dependencies: ['steward-context', 'steward-zod', 'steward-errors', 'steward-auth'], decorators: { fastify: ['alerts'] }, encapsulate: true },
);
