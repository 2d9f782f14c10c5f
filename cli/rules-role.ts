/**
 * The rules role: the engine of rules/, fed with readings (ingest's listener in the all-in-one
 * process, or its own raw-tier subscription when it runs alone), publishing alerts over MQTT,
 * storing transitions in the `alerts` measurement; the API serves its alerts and silences
 * (`services.alerts`, api/routes/alerts/).
 */
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { ALL_DATA_FILTER } from '../core/topics.ts';
import { validateMessage } from '../ingest/index.ts';
import type { Registry } from '../registry/index.ts';
import { DEFAULT_RULES_DIR } from '../rules/index.ts';
import { createRulesEngine, type RulesEngine } from '../rules/index.ts';
import type { AlertEvent, AlertSink } from '../rules/index.ts';
import type { ReadingStore } from '../core/store.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';

export type PublishFn = (topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>;

/** Alert transitions into the store's `alerts` measurement (best effort: the engine keeps its own state). */
export function storeSink(store: ReadingStore, logger: Logger): AlertSink {
  return {
    async write(events: AlertEvent[]) {
      const points = events.map((e) => ({
        ts: e.at,
        hub: e.alert.hub,
        rule: e.alert.rule,
        subject: e.alert.subject,
        severity: e.alert.severity,
        kind: e.alert.kind,
        state: e.event === 'ack' ? 'acknowledged' : e.to,
        message: e.alert.message,
        ...(e.alert.value !== null ? { value: e.alert.value } : {}),
      }));
      try {
        await store.writeAlerts(points);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'alert transitions not stored');
      }
    },
  };
}

/** Builds the engine and loads the rules (fails fast on a broken rule file). Touches no network. */
export async function createRules(o: { config: Config; store: ReadingStore; registry: Registry; metrics: PipelineMetrics; logger: Logger; publish: PublishFn; wrapSink?: (sink: AlertSink) => AlertSink }): Promise<RulesEngine> {
  const log = o.logger.child({ role: 'rules' });
  const engine = createRulesEngine({
    rulesDir: o.config.rules.paths ?? DEFAULT_RULES_DIR,
    stateDir: join(o.config.dataDir, 'rules'),
    store: o.store,
    publish: (t, p, opts) => o.publish(t, p, { qos: opts.qos as 0 | 1, retain: opts.retain }),
    sink: o.wrapSink ? o.wrapSink(storeSink(o.store, log)) : storeSink(o.store, log),
    // What the rules see, for the dashboards (e.g. Grafana's days to the floor): best effort.
    evaluations: (points) => void o.store.writeEvaluations(points).catch((err: unknown) => log.debug({ err: (err as Error).message }, 'rule evaluations not stored')),
    metrics: { registry: o.metrics.registry },
    sensors: () => o.registry.listSensors(),
    logger: log,
  });
  await engine.init();
  return engine;
}

/**
 * `steward rules` alone: reads the raw tier with its own service account (clean session; the node
 * sends its copies of committed readings at QoS 0: best effort, the spool holds the readings),
 * parses readings exactly as the intake does (validateMessage; refused ones are ignored here),
 * and publishes alerts on the same connection.
 */
export async function subscribeRaw(o: { config: Config; registry: Registry; engine: RulesEngine; logger: Logger; password: string }): Promise<{ publish: PublishFn; connected(): boolean; stop(): Promise<void> }> {
  const c = o.config.rules;
  const client = await mqtt.connectAsync(c.brokerUrl, { clientId: c.clientId, username: c.username, password: o.password, clean: true, protocolVersion: 4, reconnectPeriod: 1000 });
  // Nagle off: an alert is one small packet that must not wait for the next PUBACK (mqtt.js never sets it).
  const noDelay = (): void => (client.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
  client.on('message', (topic, payload) => {
    // The same readings the intake kept from these bytes; refused ones are its business.
    const v = validateMessage(topic, payload, { registry: o.registry, config: o.config.ingest, now: Date.now() });
    if (Array.isArray(v)) o.engine.onReadings(v);
  });
  await client.subscribeAsync(ALL_DATA_FILTER, { qos: 1 });
  o.logger.info({ broker: c.brokerUrl }, 'rules subscribed to readings');
  return {
    publish: async (t, p, opts) => {
      await client.publishAsync(t, p, opts);
    },
    connected: () => client.connected,
    stop: async () => {
      await client.endAsync();
    },
  };
}
