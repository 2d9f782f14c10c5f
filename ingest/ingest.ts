/**
 * The ingest worker: receive -> parse -> validate -> spool (then ack) -> forward (privacy ->
 * storage). One MQTT client with a persistent session (clean=false, fixed client id) at QoS 1.
 * A message is acknowledged only after its reading is durable in the spool, or after its
 * rejection is durable in the dead letters: nothing is lost, nothing is dropped silently.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { RejectionError, type RejectionCode } from '../core/errors.ts';
import { parsePayload } from '../core/parse.ts';
import type { Reading } from '../core/reading.ts';
import { parseTopic, rejectedTopic } from '../core/topics.ts';
import type { PrivacyFilter } from '../privacy/boundary.ts';
import type { Registry } from '../registry/registry.ts';
import type { DeadLetterStore } from '../storage/deadletters.ts';
import type { ReadingStore, StoredReading } from '../storage/types.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { Forwarder } from './forwarder.ts';
import { Spool } from './spool.ts';

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
  /** Called with each batch of accepted readings after they are spooled (raw tier: rules). */
  onReadings(listener: ReadingListener): () => void;
  /** Publishes through ingest's own MQTT connection (its service account): public data, alerts. */
  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
}

/**
 * Builds an ingest worker. Opens the spool under `config.dataDir` but touches no network until
 * `start()`.
 */
export function createIngest(o: IngestOptions): Ingest {
  const cfg = o.config.ingest;
  const clock = o.clock ?? systemClock;
  const log = o.logger.child({ role: 'ingest' });
  const spool = new Spool(o.config.dataDir, { sync: cfg.spoolSync });
  const forwarder = new Forwarder({
    spool,
    store: o.store,
    privacy: o.privacy,
    deadLetters: o.deadLetters,
    metrics: o.metrics,
    logger: log,
    clock,
    batchSize: cfg.batchSize,
    flushIntervalMs: cfg.flushIntervalMs,
    ...(o.onStored ? { onStored: o.onStored } : {}),
  });
  const listeners = new Set<ReadingListener>();
  const topics = o.topics ?? cfg.topics;
  let client: MqttClient | undefined;
  o.metrics.spoolDepth.set(spool.depth());

  function reject(topic: string, payload: Buffer, code: RejectionCode, reason: string, hub?: string, sensor?: string): void {
    const receivedAt = clock.now();
    o.deadLetters.add({ receivedAt, topic, hub, sensor, code, reason, payload });
    o.metrics.readingsRejected.inc({ code });
    log.debug({ topic, code, reason }, 'reading rejected');
    if (hub && client) {
      // Technicians watch csm/v1/{hub}/rejected; the payload travels as text when it is text.
      const body = JSON.stringify({ topic, code, reason, receivedAt: new Date(receivedAt).toISOString(), sensor, payload: payload.subarray(0, 4096).toString('utf8') });
      client.publish(rejectedTopic(hub), body, { qos: 1 }, (err) => {
        if (err) log.warn({ err }, 'could not publish a rejection');
      });
    }
  }

  /** Handles one message synchronously; throws only when the spool itself fails. */
  function handle(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (!t || t.type !== 'data') {
      reject(topic, payload, 'bad_topic', `topic "${topic.slice(0, 200)}" is not csm/v1/{hub}/{domain}/{sensor}/data with valid ids`);
      return;
    }
    const reg = o.registry.getSensor(t.hub, t.sensor);
    if (!reg) {
      reject(topic, payload, 'unregistered_sensor', `sensor "${t.sensor}" of hub "${t.hub}" is not registered`, t.hub, t.sensor);
      return;
    }
    if (reg.domain !== t.domain) {
      reject(topic, payload, 'topic_mismatch', `sensor "${t.sensor}" is registered for domain "${reg.domain}", not "${t.domain}"`, t.hub, t.sensor);
      return;
    }
    let readings: Reading[];
    try {
      // Partial acceptance: a bad metric is dead-lettered on its own, the message's other metrics are kept.
      const onMetricRejected = (e: RejectionError): void => reject(topic, payload, e.code, e.message, t.hub, t.sensor);
      readings = parsePayload(payload, { hub: t.hub, domain: t.domain, sensor: t.sensor, now: clock.now(), maxSkewMs: cfg.maxSkewMs, maxBytes: cfg.maxPayloadBytes, site: reg.site, kind: reg.kind, onMetricRejected });
    } catch (e) {
      if (e instanceof RejectionError) {
        reject(topic, payload, e.code, e.message, t.hub, t.sensor);
        return;
      }
      reject(topic, payload, 'schema', `could not parse: ${(e as Error).message}`, t.hub, t.sensor);
      return;
    }
    pending.push(...readings); // spooled by commitPending() before any held PUBACK goes out
    o.metrics.readingsAccepted.inc({ hub: t.hub, domain: t.domain }, readings.length);
  }

  // Group commit: the readings of every message handled since the last commit go to the spool in
  // one transaction, and the PUBACKs of those messages are held until it has committed.
  let pending: Reading[] = [];
  let heldAcks: object[] = [];
  let commitScheduled = false;
  let sliceStart = 0;
  let sendNow: ((packet: object) => void) | undefined;
  function commitPending(): void {
    commitScheduled = false;
    const readings = pending;
    const acks = heldAcks;
    pending = [];
    heldAcks = [];
    if (readings.length) {
      try {
        spool.append(readings); // durable before the PUBACKs
      } catch (err) {
        // Not acknowledged: the broker redelivers them to the persistent session.
        log.error({ err }, 'spool write failed; messages not acknowledged');
        client?.end(true);
        setTimeout(() => client?.reconnect(), 1000).unref();
        return;
      }
    }
    if (spool.depth() >= cfg.batchSize) forwarder.poke();
    const c = client;
    if (c?.connected && sendNow && acks.length) {
      const stream = c.stream as unknown as { cork(): void; uncork(): void };
      stream.cork(); // one write for the whole batch of PUBACKs
      for (const a of acks) sendNow(a);
      stream.uncork();
    }
    if (readings.length) {
      for (const l of listeners) {
        try {
          l(readings);
        } catch (err) {
          log.error({ err }, 'a reading listener failed');
        }
      }
    }
  }

  return {
    async start(timeoutMs = 30_000) {
      forwarder.start();
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
      // Group commit. mqtt.js hands over the next packet only after the PUBACK of this one is
      // written, so one spool transaction per message would bound ingest to 1 / commit latency.
      // Instead each PUBACK is held (mqtt.js continues at once) and sent by commitPending() after
      // the spool has committed the readings of every message handled so far [MQTT-4.3.2: the
      // receiver acknowledges once it has taken ownership]. This relies on mqtt.js 5's private
      // _sendPacket; without it we fall back to one commit per message.
      const priv = c as unknown as { _sendPacket?: (p: { cmd: string }, cb?: () => void, ...rest: unknown[]) => void };
      const grouped = typeof priv._sendPacket === 'function';
      if (grouped) {
        const send = priv._sendPacket!.bind(c);
        sendNow = (p) => send(p as { cmd: string });
        priv._sendPacket = (p, cb, ...rest) => {
          if (p.cmd !== 'puback') return send(p, cb, ...rest);
          heldAcks.push(p);
          if (!commitScheduled) {
            commitScheduled = true;
            setImmediate(commitPending);
          }
          // Yield to the event loop every 5 ms: libuv reads up to 32 x 64 KiB from a busy socket
          // per turn, and without a yield the forwarder's timer and storage responses starve.
          const now = performance.now();
          if (now - sliceStart > 5) {
            sliceStart = now;
            setImmediate(() => cb?.());
          } else cb?.();
        };
      } else {
        log.warn('mqtt.js has no _sendPacket: one spool commit per message (slower)');
      }
      c.handleMessage = (packet, done) => {
        if (packet.cmd !== 'publish') return done();
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        handle(packet.topic, payload);
        if (!grouped) commitPending(); // durable before done() lets mqtt.js send the PUBACK
        done();
      };
      // Nagle off: PUBACKs and alerts are small and latency-sensitive (mqtt.js never sets it).
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
      commitPending(); // readings handled but not yet committed
      if (client) {
        const c = client;
        await new Promise<void>((r) => c.end(false, {}, () => r()));
      }
      await forwarder.stop();
      o.metrics.spoolDepth.set(spool.depth());
      log.info({ spoolDepth: spool.depth() }, 'ingest stopped');
      spool.close();
    },
    spoolDepth: () => spool.depth(),
    storageReachable: () => forwarder.reachable(),
    connected: () => client?.connected ?? false,
    onReadings(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    publish(topic, payload, opts) {
      const c = client;
      if (!c) return Promise.reject(new Error('ingest is not started'));
      return new Promise((resolve, reject) => c.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve())));
    },
  };
}
