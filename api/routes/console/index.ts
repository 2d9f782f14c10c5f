/**
 * The console, served at the root when the API is given the console's service
 * (`services.console`, console/service.ts):
 *
 * - `GET /` and `GET /assets/*`: the page, as `npm run build` bundled it (console/build.ts).
 * - `GET /api/v1/stream`: Server-Sent Events. `hello` on connect, `reading` (newest values as
 *   storage took them, after the privacy boundary), `alert` (transitions and acknowledgements),
 *   a heartbeat comment every 15 s. The browser's EventSource reconnects by itself; the page
 *   re-reads the state after each reconnect.
 * - `GET /api/v1/console/config`: thresholds of the stocks (from the rules), which optional
 *   routes this API serves (open data, alerts, silences), and the hub's clock (a scenario's).
 * - `GET /api/v1/console/session`: who the bearer token belongs to (sign-in check).
 * - `GET /api/v1/console/biodiversity`: species richness per site from the detections streamed
 *   since the API started (the store keeps only the newest species per sensor).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { ID_PATTERN } from '../../../core/ids.ts';
import type { AlertEvent } from '../../../core/alert.ts';
import { type AlertStreamEvent, consoleConfigSchema, type LatestReading, principalSchema, siteRichnessSchema } from '../../../core/views.ts';
import { withPublicAckComment } from '../../../privacy/index.ts';
import type { StreamOptions } from '../../context.ts';
import { ApiError } from '../../errors.ts';
import type { ZodTypeProvider } from '../../zod.ts';
import { formatComment, formatEvent, formatRetry } from './sse.ts';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

type ClientOptions = Required<Pick<StreamOptions, 'flushMs' | 'maxBufferedBytes' | 'maxQueuedReadings'>>;

/** One open event stream. */
class StreamClient {
  readonly #reply: FastifyReply;
  readonly #deps: ClientOptions;
  #queue: LatestReading[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #cleanup: Array<() => void> = [];
  closed = false;

  constructor(reply: FastifyReply, deps: ClientOptions) {
    this.#reply = reply;
    this.#deps = deps;
  }

  onClose(fn: () => void): void {
    this.#cleanup.push(fn);
  }

  write(chunk: string): void {
    if (this.closed) return;
    const res = this.#reply.raw;
    if (res.writableLength > this.#deps.maxBufferedBytes) {
      // Too far behind (a stalled tab, a slow link): let it reconnect and re-read the state.
      this.#reply.log.warn({ buffered: res.writableLength }, 'console stream client too slow; disconnecting');
      this.close(true);
      return;
    }
    res.write(chunk);
  }

  readings(entries: readonly LatestReading[]): void {
    if (this.closed || entries.length === 0) return;
    for (const e of entries) this.#queue.push(e);
    if (this.#queue.length > this.#deps.maxQueuedReadings) {
      // Keep the newest value per series: the page shows current state, and re-reads history.
      const last = new Map<string, LatestReading>();
      for (const e of this.#queue) {
        const k = `${e.hub}/${e.sensor}/${e.metric}`;
        const prev = last.get(k);
        if (!prev || e.ts >= prev.ts) last.set(k, e);
      }
      this.#queue = [...last.values()];
    }
    this.#flushTimer ??= setTimeout(() => this.flush(), this.#deps.flushMs);
  }

  flush(): void {
    this.#flushTimer = undefined;
    if (this.closed || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.write(formatEvent('reading', { readings: batch }));
  }

  /** Ends the stream; `drop` discards what is still buffered (a client too slow to read it). */
  close(drop = false): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#flushTimer);
    for (const fn of this.#cleanup.splice(0)) {
      try {
        fn();
      } catch (err) {
        this.#reply.log.error({ err }, 'console stream cleanup failed');
      }
    }
    if (drop) this.#reply.raw.destroy();
    else this.#reply.raw.end();
  }
}

/** An alert event as the unauthenticated stream carries it: a steward's comment only scrubbed (privacy/README.md). */
function alertPayload(e: AlertEvent): AlertStreamEvent {
  return { event: e.event, from: e.from, to: e.to, at: new Date(e.at).toISOString(), alert: withPublicAckComment(e.alert) };
}

export default fp(
  async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const svc = app.console;
    const { heartbeatMs, retryMs, maxClients, flushMs, maxBufferedBytes, maxQueuedReadings } = app.steward.stream;
    const clientOpts = { flushMs, maxBufferedBytes, maxQueuedReadings };
    const tags = ['console'];

    // ── static assets ──────────────────────────────────────────────────────────────────────
    const distDir = svc.distDir;
    try {
      const built = await svc.ensureBuilt();
      if (built) app.log.info({ ms: built.ms, dir: distDir }, 'console assets built');
    } catch (err) {
      // The API still serves data; the page says what is missing.
      app.log.error({ err }, 'console assets could not be built');
    }
    const indexPath = join(distDir, 'index.html');
    let indexHtml: string | undefined;
    const index = (): string | undefined => {
      if (indexHtml === undefined && existsSync(indexPath)) indexHtml = readFileSync(indexPath, 'utf8').replaceAll('%TITLE%', svc.title.replace(/[<>&"]/g, ''));
      return indexHtml;
    };
    await app.register(fastifyStatic, {
      root: join(distDir, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      wildcard: true,
      index: false,
      cacheControl: false,
      setHeaders: (res, path) => {
        const hashed = /-[A-Z0-9]{8}\.[a-z.]+$/.test(path);
        res.setHeader('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'public, max-age=3600');
        res.setHeader('x-content-type-options', 'nosniff');
      },
    });
    const sendIndex = async (_req: unknown, reply: FastifyReply): Promise<FastifyReply> => {
      const html = index();
      reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
      if (!html) {
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('The console is not built. Run `npm run build` (needs the dev dependencies esbuild, preact, htm, uplot), then restart.\nThe API itself is up: /api/v1/readings/latest, /openapi.json\n');
      }
      return reply.header('content-security-policy', CSP).type('text/html; charset=utf-8').send(html);
    };
    app.get('/', { schema: { hide: true } }, sendIndex);
    app.get('/index.html', { schema: { hide: true } }, sendIndex);

    // ── live stream ────────────────────────────────────────────────────────────────────────
    const clients = new Set<StreamClient>();
    const instance = randomUUID();
    r.get(
      '/api/v1/stream',
      {
        schema: {
          summary: 'Live updates as Server-Sent Events (text/event-stream)',
          description: [
            'Events: `hello` on connect (`{ at, instance, heartbeatMs }`); `reading` (`{ readings: [...] }`, the newest values as storage took them, shaped like /api/v1/readings/latest entries, privacy-filtered);',
            '`alert` (`{ event: transition|ack, from, to, at, alert }`, the alert as /api/v1/alerts shows it). A comment line every heartbeat keeps proxies from closing the stream.',
            'Reconnect (EventSource does) and re-read /api/v1/readings/latest and /api/v1/alerts after a reconnect: events missed while disconnected are not replayed.',
          ].join(' '),
          tags,
        },
      },
      async (request, reply) => {
        if (clients.size >= maxClients) throw new ApiError('API_ERR_UNAVAILABLE', `too many open console streams (at most ${maxClients}); retry later`, { headers: { 'retry-after': '10' } });
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no', // nginx: do not buffer the stream
          'x-content-type-options': 'nosniff',
        });
        const client = new StreamClient(reply, clientOpts);
        clients.add(client);
        client.onClose(() => clients.delete(client));
        client.write(formatRetry(retryMs) + formatEvent('hello', { at: new Date().toISOString(), instance, heartbeatMs }));
        client.onClose(svc.subscribeReadings((readings) => client.readings(readings)));
        client.onClose(
          svc.subscribeAlerts((events) => {
            for (const e of events) client.write(formatEvent('alert', alertPayload(e)));
          }),
        );
        const beat = setInterval(() => client.write(formatComment(`heartbeat ${new Date().toISOString()}`)), heartbeatMs);
        beat.unref();
        client.onClose(() => clearInterval(beat));
        res.on('close', () => client.close());
        request.log.debug({ clients: clients.size }, 'console stream opened');
      },
    );
    // Streams never end by themselves: end them so `app.close()` (and a restart) does not wait.
    app.addHook('preClose', async () => {
      for (const c of [...clients]) c.close();
    });

    // ── species tally (biodiversity richness) ──────────────────────────────────────────────
    const tally = svc.richness();
    app.addHook('onClose', async () => tally.close());

    // ── small JSON routes ──────────────────────────────────────────────────────────────────
    const has = (url: string, method: 'GET' | 'POST' = 'GET'): boolean => app.hasRoute({ url, method });
    r.get(
      '/api/v1/console/config',
      { schema: { summary: 'What the console page needs to know: stock thresholds (from the rules) and which routes this API serves', tags, response: { 200: consoleConfigSchema } } },
      async () => {
        const t = svc.thresholds();
        const wall = Date.now();
        const c = svc.clock();
        const clock = c && Number.isFinite(c.now) ? { now: Math.min(c.now, wall), wall, rate: c.rate > 0 ? c.rate : 1, scenario: c.scenario ?? null } : { now: wall, wall, rate: 1, scenario: null };
        return {
          title: svc.title,
          thresholds: t.map((x) => ({ ...x })),
          features: {
            openData: has('/api/v1/public/readings/latest') && has('/api/v1/public/readings'),
            alerts: has('/api/v1/alerts'),
            silences: has('/api/v1/silences', 'POST'),
            rejections: has('/api/v1/rejections'),
          },
          stream: { url: '/api/v1/stream', heartbeatMs, retryMs },
          clock,
        };
      },
    );

    r.get(
      '/api/v1/console/session',
      {
        schema: {
          summary: 'Who the bearer token belongs to (null without a token; 401 with a wrong one)',
          tags,
          security: [{ bearer: [] }],
          response: { 200: z.object({ principal: principalSchema.nullable() }) },
        },
      },
      async (request) => ({ principal: request.principal ? { name: request.principal.name, role: request.principal.role } : null }),
    );

    r.get(
      '/api/v1/console/biodiversity',
      {
        schema: {
          summary: 'Species richness per site, from the detections streamed since the API started',
          description: 'Per site: distinct species and detections in the 24 h (and species in the 7 days) before its newest detection (sensor time), and the five most detected species of the last 24 h. `since` is when the API started counting.',
          tags,
          querystring: z.strictObject({ hub: z.string().regex(ID_PATTERN, 'must be a hub id').optional() }),
          response: { 200: z.object({ since: z.string(), sites: z.array(siteRichnessSchema) }) },
        },
      },
      async (request) => ({ since: new Date(tally.since).toISOString(), sites: tally.summary(request.query.hub) }),
    );
  },
  { name: 'steward-route-console', dependencies: ['steward-context', 'steward-zod', 'steward-errors', 'steward-auth'], decorators: { fastify: ['console'] }, encapsulate: true },
);
