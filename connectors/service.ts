/**
 * The running connectors of one process: an MQTT client per source with an `mqtt` side, and one
 * HTTP server for every webhook (`POST /api/v1/connect/{source}`), with `/health`, `/ready` and
 * `/metrics` next to them. Every message goes through the {@link ConnectorHost} to the intake and
 * is acknowledged only once durable:
 *
 * - MQTT: mqtt.js sends the PUBACK of a QoS 1 message when `handleMessage` calls back, which it does
 *   in the intake's `done`. mqtt.js hands over one message at a time, so a source carries at most
 *   one spool commit per message (~1–5 ms): hundreds of uplinks a second, far above any LoRaWAN
 *   network's rate. The session is persistent (clean: false, fixed client id), so a broker keeps
 *   what arrives while the connector is down, and resends what it did not acknowledge.
 * - HTTP: 200 once the spool has the reading (or its dead letter); 503 with Retry-After while the
 *   intake holds acknowledgements (spool quota, full disk) or when the spool did not answer within
 *   `webhookTimeoutMs`; 401 without the source's secret in `X-Steward-Secret`.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.ts';
import type { ConnectorsConfig } from '../core/config.ts';
import type { Intake } from '../ingest/intake.ts';
import type { Registry } from '../registry/registry.ts';
import type { DeadLetterStore } from '../storage/deadletters.ts';
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
  intake: Pick<Intake, 'submit' | 'pressure'>;
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
  const clients = new Map<string, MqttClient>();
  const app = Fastify({ loggerInstance: log.child({ component: 'connect-http' }, { level: 'warn' }), bodyLimit: 1024 * 1024 });
  const stopAll = async (): Promise<void> => {
    host.close();
    await app.close().catch(() => undefined);
    await Promise.all([...clients.values()].map((c) => new Promise<void>((r) => c.end(false, {}, () => r()))));
  };
  try {
    for (const s of o.sources) if (s.mqtt) clients.set(s.config.name, await connectSource(s, host, log, o.subscribeTimeoutMs));
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
      ...[...clients].map(([name, c]): ReadinessCheck => ({ name: `mqtt:${name}`, check: () => (c.connected ? { ok: true } : { ok: false, detail: `not connected to the broker of source ${name}` }) })),
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
      connected: () => [...clients.values()].every((c) => c.connected),
      stop: () => (stopped ??= stopAll().then(() => log.info('connectors stopped'))),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Connects one source's MQTT client and subscribes; resolves once subscribed, or after `timeoutMs` while it keeps trying. */
async function connectSource(s: ResolvedSource, host: ConnectorHost, log: Logger, timeoutMs = 10_000): Promise<MqttClient> {
  const m = s.mqtt!;
  const name = s.config.name;
  const c = mqtt.connect(m.url, {
    clientId: m.clientId,
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(m.password !== undefined ? { password: m.password } : {}),
    clean: false,
    // We subscribe ourselves at every connection (below).
    resubscribe: false,
    protocolVersion: 4,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  // The PUBACK (QoS 1) goes when this calls back: only once the reading or its dead letter is durable.
  c.handleMessage = (packet, done) => {
    if (packet.cmd !== 'publish') return done();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = decodeSafely(() => s.format.fromMqtt!(packet.topic, payload, s.options));
    host.handle(s.config, { topic: packet.topic, payload }, decoded, () => done());
  };
  c.on('error', (err) => log.warn({ source: name, err: err.message }, 'connector mqtt error'));
  c.on('offline', () => log.warn({ source: name, url: m.url }, 'connector disconnected from the broker; reconnecting'));
  // Subscribes at every connection (a broker without our session forgot it). Start waits for the
  // first subscription, but a broker that is not reachable yet does not stop the node from
  // running: mqtt.js keeps reconnecting and /ready says the source is not connected.
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      log.warn({ source: name, url: m.url }, `connector could not reach the broker of source ${name} within ${timeoutMs} ms; it keeps trying`);
      resolve();
    }, timeoutMs);
    c.on('connect', (ack) => {
      log.info({ source: name, url: m.url, sessionPresent: ack.sessionPresent }, 'connector connected');
      c.subscribe(m.topics, { qos: m.qos }, (err, granted) => {
        const refused = granted?.filter((g) => g.qos === 128) ?? [];
        if (err || refused.length) {
          const msg = `source ${name}: subscription refused: ${err ? err.message : refused.map((g) => g.topic).join(', ')}`;
          log.error({ source: name, topics: m.topics }, msg);
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            c.end(true);
            reject(new Error(msg));
          }
          return;
        }
        log.info({ source: name, topics: m.topics, qos: m.qos }, 'connector subscribed');
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });
  return c;
}
