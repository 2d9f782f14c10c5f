/**
 * The console's server side, as a fastify plugin the API mounts at its root
 * (`extensions: [{ scope: 'root', plugin: consoleRoutes(deps) }]`):
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
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import type {} from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import { definePlugin } from '../api/plugin.ts';
import { type ZodTypeProvider, zodSerializerCompiler, zodValidatorCompiler } from '../api/zod.ts';
import { metricDef } from '../core/catalogue.ts';
import { ID_PATTERN } from '../core/ids.ts';
import { withPublicAckComment } from '../privacy/scrub.ts';
import type { AlertEvent } from '../rules/alert.ts';
import { DEFAULT_DIST_DIR, ensureConsoleBuilt } from './build.ts';
import type { AlertsListener, LiveReadingInput, ReadingsListener, Subscribe } from './live.ts';
import { formatComment, formatEvent, formatRetry } from './sse.ts';
import type { ConsoleThreshold } from './thresholds.ts';

export type { ConsoleThreshold } from './thresholds.ts';

/** What the console needs from the process it runs in. All optional: without a feed the stream only beats. */
export interface ConsoleDeps {
  /** Stored (privacy-filtered) records as storage takes them, e.g. `LiveFeed.subscribeReadings`. */
  subscribeReadings?: Subscribe<ReadingsListener>;
  /** Alert transitions and acknowledgements, e.g. `LiveFeed.subscribeAlerts`. */
  subscribeAlerts?: Subscribe<AlertsListener>;
  /**
   * The clock the hub's data runs on, when it is not the wall clock: a scenario's simulated clock
   * (replaying a month at 3600×). The page shows times ("2 h ago", ranges of charts) on it.
   */
  clock?: () => ConsoleClock | undefined;
  /** Limits drawn on the stocks (`thresholdsFromRulesDir`); a function is called per request. */
  thresholds?: readonly ConsoleThreshold[] | (() => readonly ConsoleThreshold[]);
  /** Built assets (default `dist/console`). */
  distDir?: string;
  /**
   * `never` (default): serve what `npm run build` made; `auto`: build at registration when missing or
   * older than the sources (needs the sources and the dev dependencies: tests, `startConsoleHub`); `always`.
   */
  build?: 'auto' | 'always' | 'never';
  /** Page title (default "Steward console"). */
  title?: string;
  /** Heartbeat comment interval, ms (default 15 000). */
  heartbeatMs?: number;
  /** Readings are sent in one event per this many ms (default 250). */
  flushMs?: number;
  /** Reconnection delay the browser is told to use, ms (default 2000). */
  retryMs?: number;
  /** Most open streams; more are refused with 503 (default 100). */
  maxClients?: number;
  /** A client this far behind (bytes not yet sent) is disconnected; it reconnects and re-reads (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Most readings queued per client between flushes; beyond, only the newest per series is kept (default 5000). */
  maxQueuedReadings?: number;
}

/** The hub's clock as the page is told it (`GET /api/v1/console/config`). */
export interface ConsoleClock {
  /** Hub time now (sensor time), epoch ms. */
  now: number;
  /** Hub ms per real ms at the moment: e.g. 3600 while a scenario replays, 1 once live. */
  rate: number;
  /** The scenario the simulated fleet plays, if any. */
  scenario?: string;
}

/** A reading as the stream and `/api/v1/readings/latest` carry it: one metric, canonical unit. */
export interface LiveReading {
  hub: string;
  domain: string;
  sensor: string;
  site: string;
  kind: string;
  metric: string;
  value: number;
  unit: string;
  ts: number;
  time: string;
  species?: string;
}

/** One metric per entry; personal and unknown metrics never leave (the store is filtered; this is defence in depth). */
export function toLiveReadings(records: readonly LiveReadingInput[]): LiveReading[] {
  const out: LiveReading[] = [];
  for (const r of records) {
    for (const [metric, value] of Object.entries(r.metrics)) {
      const def = metricDef(metric);
      if (!def || def.personal || typeof value !== 'number' || !Number.isFinite(value)) continue;
      const e: LiveReading = { hub: r.hub, domain: r.domain, sensor: r.sensor, site: r.site, kind: r.kind, metric, value, unit: def.unit, ts: r.ts, time: new Date(r.ts).toISOString() };
      if (r.domain === 'biodiversity' && r.species) e.species = r.species;
      out.push(e);
    }
  }
  return out;
}

const DAY = 86_400_000;

interface Detection {
  ts: number;
  species: string;
  count: number;
}

/**
 * Species detected per hub and site over the last 7 days of sensor time, from the stream. Bounded:
 * at most `maxPerSite` detections per site (the oldest go first).
 */
export class SpeciesTally {
  readonly #sites = new Map<string, { hub: string; site: string; sensors: Set<string>; detections: Detection[]; newest: number }>();
  readonly #maxPerSite: number;
  /** Wall clock when the tally began (it knows nothing older). */
  readonly since: number;

  constructor(opts: { maxPerSite?: number; now?: number } = {}) {
    this.#maxPerSite = opts.maxPerSite ?? 50_000;
    this.since = opts.now ?? Date.now();
  }

  add(records: readonly LiveReadingInput[]): void {
    for (const r of records) {
      if (r.domain !== 'biodiversity' || !r.species) continue;
      const count = r.metrics.count ?? 1;
      if (!(count > 0)) continue;
      const key = `${r.hub}/${r.site}`;
      let s = this.#sites.get(key);
      if (!s) this.#sites.set(key, (s = { hub: r.hub, site: r.site, sensors: new Set(), detections: [], newest: 0 }));
      s.sensors.add(r.sensor);
      s.detections.push({ ts: r.ts, species: r.species, count });
      s.newest = Math.max(s.newest, r.ts);
      if (s.detections.length > this.#maxPerSite * 1.1 || s.detections[0]!.ts < s.newest - 8 * DAY) {
        s.detections = s.detections.filter((d) => d.ts >= s.newest - 7 * DAY).slice(-this.#maxPerSite);
      }
    }
  }

  /** Per site: distinct species and detections in the 24 h and 7 days before its newest detection. */
  summary(hub?: string): Array<{ hub: string; site: string; sensors: string[]; newest: number; richness24h: number; richness7d: number; detections24h: number; top: Array<{ species: string; count: number }> }> {
    const out = [];
    for (const s of this.#sites.values()) {
      if (hub && s.hub !== hub) continue;
      const day = new Map<string, number>();
      const week = new Set<string>();
      let detections24h = 0;
      for (const d of s.detections) {
        if (d.ts < s.newest - 7 * DAY) continue;
        week.add(d.species);
        if (d.ts >= s.newest - DAY) {
          day.set(d.species, (day.get(d.species) ?? 0) + d.count);
          detections24h += d.count;
        }
      }
      const top = [...day.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5).map(([species, count]) => ({ species, count }));
      out.push({ hub: s.hub, site: s.site, sensors: [...s.sensors].sort(), newest: s.newest, richness24h: day.size, richness7d: week.size, detections24h, top });
    }
    return out.sort((a, b) => a.hub.localeCompare(b.hub) || a.site.localeCompare(b.site));
  }
}

const thresholdSchema = z.object({
  rule: z.string(),
  metric: z.string(),
  direction: z.enum(['below', 'above']),
  value: z.number(),
  clearAt: z.number().optional(),
  kind: z.enum(['threshold', 'floor', 'rate']),
  perMs: z.number().optional(),
  severity: z.enum(['info', 'warning', 'critical']),
  label: z.string(),
  trend: z
    .object({ windowMs: z.number(), smoothMs: z.number(), minPoints: z.number().int(), minSpanMs: z.number(), minR2: z.number().optional() })
    .optional()
    .describe('floor and rate: how the rule fits its trend (ms), for the page to fit the same'),
  hubs: z.array(z.string()).optional(),
  sensors: z.array(z.string()).optional(),
  sites: z.array(z.string()).optional(),
});

const configSchema = z.object({
  title: z.string(),
  thresholds: z.array(thresholdSchema),
  features: z.object({
    openData: z.boolean().describe('`/api/v1/public/readings*` are served: the page reads open data'),
    alerts: z.boolean().describe('`/api/v1/alerts` is served'),
    silences: z.boolean(),
    rejections: z.boolean(),
  }),
  stream: z.object({ url: z.string(), heartbeatMs: z.number().int(), retryMs: z.number().int() }),
  clock: z
    .object({
      now: z.number().describe('hub time (sensor time) now, epoch ms: a scenario\'s simulated clock, else the wall clock'),
      wall: z.number().describe('the server\'s wall clock, epoch ms'),
      rate: z.number().describe('hub ms per real ms: e.g. 3600 while a scenario replays, 1 live'),
      scenario: z.string().nullable(),
    })
    .describe('The clock the page shows times on; hub time never runs ahead of the wall clock'),
});

/** The page `npm run build` writes into `distDir` (default `dist/console`); a process serving the console needs it. */
export function consoleIndexPath(distDir: string = DEFAULT_DIST_DIR): string {
  return join(distDir, 'index.html');
}

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

type ClientOptions = Required<Pick<ConsoleDeps, 'flushMs' | 'maxBufferedBytes' | 'maxQueuedReadings'>>;

/** One open event stream. */
class StreamClient {
  readonly #reply: FastifyReply;
  readonly #deps: ClientOptions;
  #queue: LiveReading[] = [];
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

  readings(entries: readonly LiveReading[]): void {
    if (this.closed || entries.length === 0) return;
    for (const e of entries) this.#queue.push(e);
    if (this.#queue.length > this.#deps.maxQueuedReadings) {
      // Keep the newest value per series: the page shows current state, and re-reads history.
      const last = new Map<string, LiveReading>();
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
function alertPayload(e: AlertEvent): Record<string, unknown> {
  return { event: e.event, from: e.from, to: e.to, at: new Date(e.at).toISOString(), alert: withPublicAckComment(e.alert) };
}

/**
 * The plugin. Register it at the root of the API (its paths are absolute):
 * `buildApp({ ..., extensions: [{ scope: 'root', plugin: consoleRoutes({ ...live, thresholds }) }] })`.
 * Builds the assets at registration only when `build` says so (esbuild, about a second).
 */
export function consoleRoutes(deps: ConsoleDeps = {}): FastifyPluginAsync {
  const distDir = deps.distDir ?? DEFAULT_DIST_DIR;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const retryMs = deps.retryMs ?? 2000;
  const maxClients = deps.maxClients ?? 100;
  const clientOpts = { flushMs: deps.flushMs ?? 250, maxBufferedBytes: deps.maxBufferedBytes ?? 1 << 20, maxQueuedReadings: deps.maxQueuedReadings ?? 5000 };
  const title = deps.title ?? 'Steward console';

  return definePlugin(async (app: FastifyInstance): Promise<void> => {
    app.setValidatorCompiler(zodValidatorCompiler);
    app.setSerializerCompiler(zodSerializerCompiler);
    const r = app.withTypeProvider<ZodTypeProvider>();
    const tags = ['console'];

    // ── static assets ──────────────────────────────────────────────────────────────────────
    try {
      const built = await ensureConsoleBuilt(deps.build ?? 'never', distDir);
      if (built) app.log.info({ ms: built.ms, dir: built.outDir }, 'console assets built');
    } catch (err) {
      // The API still serves data; the page says what is missing.
      app.log.error({ err }, 'console assets could not be built');
    }
    const indexPath = consoleIndexPath(distDir);
    let indexHtml: string | undefined;
    const index = (): string | undefined => {
      if (indexHtml === undefined && existsSync(indexPath)) indexHtml = readFileSync(indexPath, 'utf8').replaceAll('%TITLE%', title.replace(/[<>&"]/g, ''));
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
        if (deps.subscribeReadings) {
          const off = deps.subscribeReadings((records) => client.readings(toLiveReadings(records)));
          client.onClose(off);
        }
        if (deps.subscribeAlerts) {
          const off = deps.subscribeAlerts((events) => {
            for (const e of events) client.write(formatEvent('alert', alertPayload(e)));
          });
          client.onClose(off);
        }
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
    const tally = new SpeciesTally();
    if (deps.subscribeReadings) {
      const off = deps.subscribeReadings((records) => tally.add(records));
      app.addHook('onClose', async () => off());
    }

    // ── small JSON routes ──────────────────────────────────────────────────────────────────
    const has = (url: string, method: 'GET' | 'POST' = 'GET'): boolean => app.hasRoute({ url, method });
    r.get(
      '/api/v1/console/config',
      { schema: { summary: 'What the console page needs to know: stock thresholds (from the rules) and which routes this API serves', tags, response: { 200: configSchema } } },
      async () => {
        const t = typeof deps.thresholds === 'function' ? deps.thresholds() : (deps.thresholds ?? []);
        const wall = Date.now();
        const c = deps.clock?.();
        const clock = c && Number.isFinite(c.now) ? { now: Math.min(c.now, wall), wall, rate: c.rate > 0 ? c.rate : 1, scenario: c.scenario ?? null } : { now: wall, wall, rate: 1, scenario: null };
        return {
          title,
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
          response: { 200: z.object({ principal: z.object({ name: z.string(), role: z.enum(['steward', 'technician']) }).nullable() }) },
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
          response: {
            200: z.object({
              since: z.string(),
              sites: z.array(
                z.object({
                  hub: z.string(),
                  site: z.string(),
                  sensors: z.array(z.string()),
                  newest: z.number(),
                  richness24h: z.number().int(),
                  richness7d: z.number().int(),
                  detections24h: z.number(),
                  top: z.array(z.object({ species: z.string(), count: z.number() })),
                }),
              ),
            }),
          },
        },
      },
      async (request) => ({ since: new Date(tally.since).toISOString(), sites: tally.summary(request.query.hub) }),
    );
  }, { name: 'steward-console', dependencies: ['steward-errors', 'steward-auth'] });
}
