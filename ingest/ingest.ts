/**
 * The ingest worker for a broker Steward does not run (Mosquitto, EMQX): subscribe -> intake
 * (validate, spool, then acknowledge) -> forwarder (privacy -> storage). One MQTT client with a
 * persistent session (clean=false, fixed client id) at QoS 1, optionally in a `$share` group.
 * A message is acknowledged only after its reading is durable in the spool, or after its
 * rejection is durable in the dead letters: nothing is lost, nothing is dropped silently.
 * (On Steward's own broker the intake sits in the broker's publish path instead: broker/.)
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Reading } from '../core/reading.ts';
import { rejectedTopic } from '../core/topics.ts';
import type { PrivacyFilter } from '../privacy/boundary.ts';
import type { Registry } from '../registry/registry.ts';
import type { DeadLetterStore } from '../storage/deadletters.ts';
import type { ReadingStore, StoredReading } from '../storage/types.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { Pressure, Rejection } from './intake.ts';
import { createPipeline } from './pipeline.ts';

export interface IngestOptions {
  config: Config;
  store: ReadingStore;
  registry: Registry;
  deadLetters: DeadLetterStore;
  privacy: PrivacyFilter;
  metrics: PipelineMetrics;
  logger: Logger;
  clock?: Clock;
  /** MQTT credentials of a service account. */
  credentials: { username: string; password: string };
  /** Overrides `config.ingest.brokerUrl`. */
  brokerUrl?: string;
  /** Overrides `config.ingest.clientId` (each worker of a scaled-out ingest needs its own). */
  clientId?: string;
  /** Overrides `config.ingest.topics`. */
  topics?: string[];
  /** Extra mqtt.js options (tests). */
  mqttOptions?: IClientOptions;
  /** Called with every batch storage took (public MQTT, upstream). */
  onStored?: (records: StoredReading[]) => void;
}

export type ReadingListener = (readings: Reading[]) => void;

export interface Ingest {
  /** Connects and subscribes; resolves once subscribed (or rejects after `timeoutMs`). */
  start(timeoutMs?: number): Promise<void>;
  /** Stops receiving, forwards what the spool holds (bounded by a deadline), closes. */
  stop(): Promise<void>;
  spoolDepth(): number;
  /** Did the last storage write succeed? */
  storageReachable(): boolean;
  /** Is the MQTT connection up? */
  connected(): boolean;
  /** Why acknowledgements are held (spool full, disk full), if they are. */
  pressure(): Pressure | undefined;
  /** Called with each batch of accepted readings after they are spooled (raw tier: rules). */
  onReadings(listener: ReadingListener): () => void;
  /** Publishes through ingest's own MQTT connection (its service account): public data, alerts. */
  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
}

/** The subscription filters, in the `$share/{group}/` form when a share group is configured. */
export function subscriptionFilters(topics: readonly string[], shareGroup: string | undefined): string[] {
  return shareGroup ? topics.map((t) => `$share/${shareGroup}/${t}`) : [...topics];
}

/**
 * Builds an ingest worker. Opens the spool under `config.dataDir` but touches no network until
 * `start()`.
 */
export function createIngest(o: IngestOptions): Ingest {
  const cfg = o.config.ingest;
  const log = o.logger.child({ role: 'ingest' });
  let client: MqttClient | undefined;
  const publishRejection = (r: Rejection): void => {
    if (!r.hub || !client) return;
    // Technicians watch csm/v1/{hub}/rejected; the payload travels as text when it is text.
    const body = JSON.stringify({ topic: r.topic, code: r.code, reason: r.reason, receivedAt: new Date(r.receivedAt).toISOString(), sensor: r.sensor, payload: r.payload.subarray(0, 4096).toString('utf8') });
    client.publish(rejectedTopic(r.hub), body, { qos: 1 }, (err) => {
      if (err) log.warn({ err }, 'could not publish a rejection');
    });
  };
  const pipeline = createPipeline({
    config: o.config,
    store: o.store,
    registry: o.registry,
    deadLetters: o.deadLetters,
    privacy: o.privacy,
    metrics: o.metrics,
    logger: o.logger,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.onStored ? { onStored: o.onStored } : {}),
    onRejected: publishRejection,
  });
  const topics = subscriptionFilters(o.topics ?? cfg.topics, cfg.shareGroup);

  return {
    async start(timeoutMs = 30_000) {
      pipeline.start();
      const url = o.brokerUrl ?? cfg.brokerUrl;
      const c = mqtt.connect(url, {
        clientId: o.clientId ?? cfg.clientId,
        username: o.credentials.username,
        password: o.credentials.password,
        clean: false,
        protocolVersion: 4,
        keepalive: 30,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        ...o.mqttOptions,
      });
      client = c;
      // mqtt.js sends the PUBACK of a QoS 1 message when handleMessage calls back: only after the
      // intake has committed it. One message at a time, so the rate is bounded by commit latency.
      c.handleMessage = (packet, done) => {
        if (packet.cmd !== 'publish') return done();
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        pipeline.intake.submit(packet.topic, payload, () => done());
      };
      c.on('connect', () => (c.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
      c.on('error', (err) => log.warn({ err: err.message }, 'mqtt error'));
      c.on('offline', () => log.warn({ url }, 'ingest disconnected from the broker; reconnecting'));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`ingest could not subscribe on ${url} within ${timeoutMs} ms`)), timeoutMs);
        c.on('connect', (ack) => {
          log.info({ url, sessionPresent: ack.sessionPresent }, 'ingest connected');
          c.subscribe(topics, { qos: 1 }, (err, granted) => {
            const refused = granted?.filter((g) => g.qos === 128) ?? [];
            if (err || refused.length) {
              const msg = err ? err.message : `broker refused ${refused.map((g) => g.topic).join(', ')}`;
              log.error({ topics, err: msg }, 'ingest subscription failed');
              clearTimeout(timer);
              reject(new Error(`ingest subscription failed: ${msg}`));
              return;
            }
            clearTimeout(timer);
            log.info({ topics }, 'ingest subscribed');
            resolve();
          });
        });
      });
    },
    async stop() {
      pipeline.intake.flush();
      if (client) {
        const c = client;
        await new Promise<void>((r) => c.end(false, {}, () => r()));
      }
      await pipeline.stop();
      log.info({ spoolDepth: pipeline.spoolDepth() }, 'ingest stopped');
    },
    spoolDepth: () => pipeline.spoolDepth(),
    storageReachable: () => pipeline.storageReachable(),
    connected: () => client?.connected ?? false,
    pressure: () => pipeline.pressure(),
    onReadings: (l) => pipeline.intake.onReadings(l),
    publish(topic, payload, opts) {
      const c = client;
      if (!c) return Promise.reject(new Error('ingest is not started'));
      return new Promise((resolve, reject) => c.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve())));
    },
  };
}
