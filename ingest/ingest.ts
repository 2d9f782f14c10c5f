/**
 * The ingest worker for a broker Steward does not run (Mosquitto, EMQX): subscribe -> intake
 * (validate, spool, then acknowledge) -> forwarder (privacy -> storage). The subscriber
 * (subscriber.ts) holds a persistent session (clean=false, fixed client id) at QoS 1, optionally
 * in a `$share` group, and writes each PUBACK only when the intake has made the message durable;
 * many messages are in flight at once, so the intake commits them together.
 * A message is acknowledged only after its reading is durable in the spool, or after its
 * rejection is durable in the dead letters: nothing is lost, nothing is dropped silently.
 * (On Steward's own broker the intake sits in the broker's publish path instead: broker/.)
 */
import { rejectionPublisher, type Pressure, type ReadingListener } from './intake.ts';
import { createPipeline, type PipelineOptions } from './pipeline.ts';
import { createSubscriber, type Subscriber } from './subscriber.ts';

/** The pipeline's options (its rejections go out on the subscriber's connection) and the subscriber's. */
export interface IngestOptions extends Omit<PipelineOptions, 'onRejected'> {
  /** MQTT credentials of a service account. */
  credentials: { username: string; password: string };
  /** Overrides `config.ingest.brokerUrl`. */
  brokerUrl?: string;
  /** Overrides `config.ingest.clientId` (each worker of a scaled-out ingest needs its own). */
  clientId?: string;
  /** Overrides `config.ingest.topics`. */
  topics?: string[];
}

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
  const url = o.brokerUrl ?? cfg.brokerUrl;
  // Rejections go out through the subscriber's connection, which is built after the pipeline.
  const ref: { subscriber?: Subscriber } = {};
  const publishRejection = rejectionPublisher((t, p, opts) => (ref.subscriber ? ref.subscriber.publish(t, p, opts) : Promise.reject(new Error('not connected'))), log);
  const { credentials, brokerUrl: _url, clientId, topics, ...pipelineOptions } = o;
  const pipeline = createPipeline({ ...pipelineOptions, onRejected: publishRejection });
  const filters = subscriptionFilters(topics ?? cfg.topics, cfg.shareGroup);
  const sub = createSubscriber({
    url,
    clientId: clientId ?? cfg.clientId,
    username: credentials.username,
    password: credentials.password,
    filters,
    sink: pipeline.intake,
    logger: log,
  });
  ref.subscriber = sub;

  return {
    async start(timeoutMs = 30_000) {
      pipeline.start();
      try {
        await sub.start(timeoutMs);
      } catch (e) {
        log.error({ url, filters, err: (e as Error).message }, 'ingest could not subscribe');
        throw e;
      }
    },
    async stop() {
      // The subscriber lets the intake commit what it holds and writes those PUBACKs before its
      // DISCONNECT; then the forwarder drains the spool (bounded) and closes it.
      await sub.stop();
      await pipeline.stop();
      log.info({ spoolDepth: pipeline.spoolDepth() }, 'ingest stopped');
    },
    spoolDepth: () => pipeline.spoolDepth(),
    storageReachable: () => pipeline.storageReachable(),
    connected: () => sub.connected(),
    pressure: () => pipeline.pressure(),
    onReadings: (l) => pipeline.intake.onReadings(l),
    publish: (topic, payload, opts) => sub.publish(topic, payload, opts),
  };
}
