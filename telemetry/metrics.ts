/**
 * Prometheus metrics of the pipeline. One `PipelineMetrics` per process (or per test), passed to
 * each role through its options: no global registry, so two instances can run in one process.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** The metrics of another registry in this process (a worker thread's), as prom-client's JSON. */
export type MetricsPeer = () => Promise<Array<MetricObjectWithValues<MetricValue<string>>>>;

export interface PipelineMetrics {
  registry: Registry;
  /**
   * Registries of worker threads (the forwarder's): `renderMetrics` adds their counters and
   * histograms to this registry's, so /metrics shows the whole process.
   */
  peers: Set<MetricsPeer>;
  readingsAccepted: Counter<'hub' | 'domain'>;
  readingsRejected: Counter<'code'>;
  readingsStored: Counter<'store'>;
  spoolDepth: Gauge;
  storageWriteSeconds: Histogram<'store' | 'outcome'>;
  storageErrors: Counter<'store' | 'retryable'>;
  endToEndSeconds: Histogram;
  connectedClients: Gauge;
  brokerRefused: Counter<'reason'>;
  privacyActions: Counter<'action'>;
  intakePaused: Gauge<'reason'>;
  intakePauses: Counter<'reason'>;
  spoolBytes: Gauge;
  rawFeedDropped: Counter;
  /** What the privacy scrubber removed from free text, by kind (email, link, phone, coordinates, postcode, address, name). */
  privacyScrubbed: Counter<'kind'>;
}

/** Creates the metrics on a fresh registry. `defaults` adds process metrics (RSS, event loop lag). */
export function createMetrics(opts: { defaults?: boolean } = {}): PipelineMetrics {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'steward_' });
  const registers = [registry];
  return {
    registry,
    peers: new Set(),
    readingsAccepted: new Counter({ name: 'steward_readings_accepted_total', help: 'Readings validated and spooled', labelNames: ['hub', 'domain'], registers }),
    readingsRejected: new Counter({ name: 'steward_readings_rejected_total', help: 'Messages refused, by reason code', labelNames: ['code'], registers }),
    readingsStored: new Counter({ name: 'steward_readings_stored_total', help: 'Readings written to storage', labelNames: ['store'], registers }),
    spoolDepth: new Gauge({ name: 'steward_spool_depth', help: 'Readings in the durable spool not yet in storage', registers }),
    storageWriteSeconds: new Histogram({
      name: 'steward_storage_write_seconds',
      help: 'Latency of one batch write to storage',
      labelNames: ['store', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    storageErrors: new Counter({ name: 'steward_storage_errors_total', help: 'Failed storage writes', labelNames: ['store', 'retryable'], registers }),
    endToEndSeconds: new Histogram({
      name: 'steward_publish_to_stored_seconds',
      help: "From a reading's sensor timestamp to its commit in storage (freshness of stored data)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    connectedClients: new Gauge({ name: 'steward_mqtt_connected_clients', help: 'MQTT clients connected to the broker', registers }),
    brokerRefused: new Counter({ name: 'steward_broker_refused_total', help: 'Connections, publishes and subscriptions the broker refused', labelNames: ['reason'], registers }),
    privacyActions: new Counter({ name: 'steward_privacy_actions_total', help: 'Privacy filter actions (dropped, coarsened, suppressed, pseudonymised, withheld)', labelNames: ['action'], registers }),
    intakePaused: new Gauge({ name: 'steward_intake_paused', help: '1 while the intake holds acknowledgements because the spool cannot take more, by reason', labelNames: ['reason'], registers }),
    intakePauses: new Counter({ name: 'steward_intake_pauses_total', help: 'Times the intake began holding acknowledgements, by reason', labelNames: ['reason'], registers }),
    spoolBytes: new Gauge({ name: 'steward_spool_bytes', help: 'Size of the durable spool file, bytes', registers }),
    rawFeedDropped: new Counter({ name: 'steward_raw_feed_dropped_total', help: 'Readings not copied to raw-tier subscribers (QoS 0 feed) because they lagged; the readings themselves are spooled', registers }),
    privacyScrubbed: new Counter({ name: 'steward_privacy_scrubbed_total', help: 'What the privacy scrubber removed from free text, by kind', labelNames: ['kind'], registers }),
  };
}

/** The Prometheus text of `m` and of its peers (summed per series), for /metrics. */
export async function renderMetrics(m: Pick<PipelineMetrics, 'registry' | 'peers'>): Promise<string> {
  if (m.peers.size === 0) return m.registry.metrics();
  const parts = [await m.registry.getMetricsAsJSON()];
  for (const peer of m.peers) parts.push(await peer().catch(() => []));
  return AggregatorRegistry.aggregate(parts).metrics();
}
