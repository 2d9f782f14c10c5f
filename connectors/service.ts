/**
 * The running connectors of one process: an MQTT client per source with an `mqtt` side, and one
 * HTTP server for every webhook (`POST /api/v1/connect/{source}`), with `/health`, `/ready` and
 * `/metrics` next to them. Every message goes through the {@link ConnectorHost} to the intake and
 * is acknowledged only once durable:
 *
 * - MQTT: the subscriber of `steward ingest` (ingest/subscriber.ts) writes the PUBACK of a QoS 1
 *   message in the intake's `done`, with many messages in flight (the intake commits them
 *   together). The session is persistent (clean: false, fixed client id), so a broker keeps what
 *   arrives while the connector is down, and resends what it did not acknowledge.
 * - HTTP: 200 once the spool has the reading (or its dead letter); 503 with Retry-After while the
 *   intake holds acknowledgements (spool quota, full disk) or when the spool did not answer within
 *   `webhookTimeoutMs`; 401 without the source's secret in `X-Steward-Secret`.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { Clock } from '../core/clock.ts';
import type { ConnectorsConfig } from '../core/config.ts';
import type { Intake } from '../ingest/index.ts';
import { createSubscriber, type Subscriber } from '../ingest/index.ts';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { readiness, type ReadinessCheck } from '../telemetry/ops.ts';
import type { ResolvedSource } from './check.ts';
import { ConnectorHost, type Outcome } from './host.ts';
import type { Profile } from './mapping.ts';
import type { Decoded } from './types.ts';

export interface ConnectorsOptions {
  config: ConnectorsConfig;
  sources: ResolvedSource[];
  profiles: Profile[];
  intake: Pick<Intake, 'submit' | 'pressure' | 'flush'>;
  registry: Registry;
  deadLetters: DeadLetterStore;
  metrics: PipelineMetrics;
  logger: Logger;
  clock?: Clock;
  /** More readiness checks for /ready (storage of a role run alone). */
  checks?: ReadinessCheck[];
  /** How long start waits for each source's first subscription before going on without it (default 10 s). */
  subscribeTimeoutMs?: number;
}

export interface Connectors {
  readonly host: ConnectorHost;
  /** Base URL of the HTTP server. */
  readonly url: string;
  /** Are all MQTT sources connected? */
  connected(): boolean;
  stop(): Promise<void>;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function decodeSafely(fn: () => Decoded): Decoded {
  try {
    return fn();
  } catch (err) {
    return { kind: 'invalid', reason: `could not be read: ${(err as Error).message}` };
  }
}

export async function startConnectors(o: ConnectorsOptions): Promise<Connectors> {
  const log = o.logger.child({ role: 'connect' });
  const host = new ConnectorHost({ intake: o.intake, registry: o.registry, deadLetters: o.deadLetters, profiles: o.profiles, logger: o.logger, metrics: o.metrics, dedupWindowMs: o.config.dedupWindowMs, ...(o.clock ? { clock: o.clock } : {}) });
  const clients = new Map<string, Subscriber>();
  const app = Fastify({ loggerInstance: log.child({ component: 'connect-http' }, { level: 'warn' }), bodyLimit: 1024 * 1024 });
  const stopAll = async (): Promise<void> => {
    host.close();
    await app.close().catch(() => undefined);
    await Promise.all([...clients.values()].map((c) => c.stop()));
  };
  try {
    for (const s of o.sources) if (s.mqtt) clients.set(s.config.name, await connectSource(s, host, o.intake, log, o.subscribeTimeoutMs));
    const webhooks = new Map(o.sources.filter((s) => s.webhookSecret).map((s) => [s.config.name, s]));
    app.post<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>('/api/v1/connect/:name', async (req, reply) => {
      const s = webhooks.get(req.params.name);
      if (!s?.format.fromWebhook) return reply.code(404).send({ error: `no webhook source named "${req.params.name}"` });
      const given = req.headers['x-steward-secret'];
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), digest(s.webhookSecret!))) return reply.code(401).send({ error: 'missing or wrong X-Steward-Secret header' });
      const pressure = o.intake.pressure();
      if (pressure) return reply.code(503).header('retry-after', '30').send({ error: `not accepting: ${pressure.message}` });
      const decoded = decodeSafely(() => s.format.fromWebhook!(req.body, req.query, s.options));
      const raw = Buffer.from(JSON.stringify(req.body ?? null));
      const outcome = await new Promise<Outcome | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), o.config.webhookTimeoutMs);
        host.handle(s.config, { topic: `webhook:${s.config.name}${req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''}`, payload: raw }, decoded, (out) => {
          clearTimeout(timer);
          resolve(out);
        });
      });
      // Not in the spool in time: the server should send it again (a second copy is harmless: same timestamp).
      if (!outcome) return reply.code(503).header('retry-after', '30').send({ error: 'the spool did not take the reading in time; send it again' });
      return reply.code(200).send(outcome);
    });
    const checks: ReadinessCheck[] = [
      { name: 'intake', check: () => (o.intake.pressure() ? { ok: false, detail: o.intake.pressure()!.message } : { ok: true }) },
      ...[...clients].map(([name, c]): ReadinessCheck => ({ name: `mqtt:${name}`, check: () => (c.connected() ? { ok: true } : { ok: false, detail: `not connected to the broker of source ${name}` }) })),
      ...(o.checks ?? []),
    ];
    app.get('/health', async () => ({ status: 'ok', role: 'connect' }));
    app.get('/ready', async (_req, reply) => {
      const r = await readiness(checks);
      return r.ready ? { status: 'ready', role: 'connect', checks: r.checks } : reply.code(503).send({ status: 'not ready', role: 'connect', checks: r.checks });
    });
    app.get('/metrics', async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics()));
    const url = await app.listen({ host: o.config.http.host, port: o.config.http.port });
    log.info({ url, sources: o.sources.map((s) => s.config.name), profiles: o.profiles.map((p) => p.name) }, 'connectors running');
    let stopped: Promise<void> | undefined;
    return {
      host,
      url,
      connected: () => [...clients.values()].every((c) => c.connected()),
      stop: () => (stopped ??= stopAll().then(() => log.info('connectors stopped'))),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Connects one source's MQTT client and subscribes; resolves once subscribed, or after `timeoutMs` while it keeps trying. */
async function connectSource(s: ResolvedSource, host: ConnectorHost, intake: Pick<Intake, 'flush'>, log: Logger, timeoutMs = 10_000): Promise<Subscriber> {
  const m = s.mqtt!;
  const sub = createSubscriber({
    url: m.url,
    clientId: m.clientId,
    username: m.username,
    password: m.password,
    filters: m.topics,
    qos: m.qos,
    // A network server's broker that is not reachable yet does not stop the node: the subscriber
    // keeps reconnecting and /ready says the source is not connected.
    keepTrying: true,
    logger: log.child({ source: s.config.name }),
    sink: {
      // The PUBACK (QoS 1) is written in `done`: once the reading or its dead letter is durable.
      submit: (topic, payload, done) => host.handle(s.config, { topic, payload }, decodeSafely(() => s.format.fromMqtt!(topic, payload, s.options)), () => done()),
      flush: () => intake.flush(),
    },
  });
  await sub.start(timeoutMs);
  return sub;
}
