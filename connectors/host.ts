/**
 * The shared half of every connector: from a decoded {@link Uplink} to a durable reading, and the
 * acknowledgement only after that.
 *
 * 1. The Steward sensor: the device's DevEUI (`steward sensors add … --eui`), else its name as a
 *    sensor id of the source's `hub`. Unknown devices are dead-lettered with a reason.
 * 2. The mapping profile (connectors/mapping.ts): metrics with units, timestamp, sequence number.
 *    Unmapped and unreadable fields are reported once per profile and field, not per message.
 * 3. Duplicates (several gateways, a network server's retry, a redelivery after a crash): the same
 *    device and frame counter within `dedupWindowMs` of network time get the timestamp of the
 *    first, so storage (keyed by sensor and timestamp) keeps one point. A frame-counter reset
 *    (rejoin) arrives later, so its readings get their own timestamps: nothing is overwritten.
 * 4. A native Steward message (`csm/v1/{hub}/{domain}/{sensor}/data`, `{ts, seq, metrics}`) goes
 *    to the intake, which validates, converts units, and calls back once it is in the spool (or
 *    its rejection in the dead letters). Only then is the caller's `done` called: the MQTT PUBACK
 *    or the HTTP 2xx.
 *
 * Gateway metadata (ids, RSSI, SNR) goes to Prometheus metrics only; gateway locations are dropped.
 * @module
 */
import { Counter, Gauge } from 'prom-client';
import { systemClock, type Clock } from '../core/clock.ts';
import type { RejectionCode } from '../core/errors.ts';
import { dataTopic } from '../core/topics.ts';
import type { Intake, Verdict } from '../ingest/index.ts';
import type { Registry, SensorEntry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { chooseProfile, mapUplink, type FieldIssue, type Profile } from './mapping.ts';
import type { Decoded, SourceConfig, Uplink } from './types.ts';

/** What became of one message once it is durable (or deliberately dropped). */
export type Outcome = { result: 'accepted'; hub: string; sensor: string; ts: number; seq: number } | { result: 'dead_letter'; code: RejectionCode; reason: string } | { result: 'ignored'; reason: string };

/** One field problem, as reported (once) for a profile. */
export interface FieldReport extends FieldIssue {
  source: string;
  profile: string;
  file: string;
}

export interface HostOptions {
  intake: Pick<Intake, 'submit'>;
  registry: Registry;
  deadLetters: DeadLetterStore;
  profiles: Profile[];
  logger: Logger;
  metrics: PipelineMetrics;
  dedupWindowMs: number;
  clock?: Clock;
  /** How often a dead letter that could not be written is tried again, ms (default 1000). */
  retryMs?: number;
}

interface Seen {
  ts: number;
  networkTime: number;
}

const MAX_SEEN = 200_000;

function connectorMetrics(m: PipelineMetrics) {
  const registers = [m.registry];
  const get = <T>(name: string, make: () => T): T => (m.registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    uplinks: get('steward_connector_uplinks_total', () => new Counter({ name: 'steward_connector_uplinks_total', help: 'Connector messages by source and outcome (accepted, dead_letter, ignored)', labelNames: ['source', 'outcome'], registers })),
    duplicates: get('steward_connector_duplicates_total', () => new Counter({ name: 'steward_connector_duplicates_total', help: 'Uplinks seen again (another gateway, a retry) and stored under the first timestamp', labelNames: ['source'], registers })),
    fieldIssues: get('steward_connector_field_issues_total', () => new Counter({ name: 'steward_connector_field_issues_total', help: 'Decoded fields not mapped or not readable, by profile and problem', labelNames: ['source', 'profile', 'problem'], registers })),
    gatewayRx: get('steward_connector_gateway_receptions_total', () => new Counter({ name: 'steward_connector_gateway_receptions_total', help: 'Uplinks received through each gateway (pipeline health only)', labelNames: ['source', 'gateway'], registers })),
    gatewayRssi: get('steward_connector_gateway_rssi_dbm', () => new Gauge({ name: 'steward_connector_gateway_rssi_dbm', help: 'RSSI of the last uplink through each gateway', labelNames: ['source', 'gateway'], registers })),
    gatewaySnr: get('steward_connector_gateway_snr_db', () => new Gauge({ name: 'steward_connector_gateway_snr_db', help: 'SNR of the last uplink through each gateway', labelNames: ['source', 'gateway'], registers })),
  };
}

/** Turns decoded uplinks into durable readings; see the module comment. */
export class ConnectorHost {
  readonly #o: HostOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #m: ReturnType<typeof connectorMetrics>;
  readonly #seen = new Map<string, Seen>();
  readonly #reported = new Map<string, FieldReport>();
  #closed = false;

  constructor(o: HostOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.logger.child({ component: 'connectors' });
    this.#m = connectorMetrics(o.metrics);
  }

  /** Field problems reported so far, once each per profile. */
  reports(): FieldReport[] {
    return [...this.#reported.values()];
  }

  /** Stops retrying dead letters; what waits is not acknowledged (the server resends it). */
  close(): void {
    this.#closed = true;
  }

  /**
   * Handles one message of `source` (`origin`: where it came from and its bytes, kept in a dead
   * letter). `done` is called once the outcome is durable, never before; it may wait while the
   * spool is full.
   */
  handle(source: SourceConfig, origin: { topic: string; payload: Buffer }, decoded: Decoded, done: (o: Outcome) => void): void {
    const receivedAt = this.#clock.now();
    const finish = (o: Outcome): void => {
      this.#m.uplinks.inc({ source: source.name, outcome: o.result });
      done(o);
    };
    if (decoded.kind === 'ignore') return finish({ result: 'ignored', reason: decoded.why });
    if (decoded.kind === 'invalid') return this.#deadLetter({ topic: origin.topic, payload: origin.payload, code: 'schema', reason: `${source.name}: ${decoded.reason}`, receivedAt }, finish);
    const u = decoded.uplink;
    for (const g of u.gateways) {
      const l = { source: source.name, gateway: g.id.slice(0, 64) };
      this.#m.gatewayRx.inc(l);
      if (g.rssi !== undefined) this.#m.gatewayRssi.set(l, g.rssi);
      if (g.snr !== undefined) this.#m.gatewaySnr.set(l, g.snr);
    }
    const who = describeDevice(u);
    const sensor = this.#sensorOf(source, u);
    if (!sensor) {
      const how = u.device.eui ? `steward sensors add HUB DOMAIN SENSOR --eui ${u.device.eui}` : `steward sensors add ${source.hub ?? 'HUB'} DOMAIN ${u.device.name ?? 'SENSOR'}`;
      return this.#deadLetter({ topic: origin.topic, payload: origin.payload, code: 'unregistered_sensor', reason: `${source.name}: device ${who} is not registered as a Steward sensor (register it with: ${how})`, receivedAt }, finish);
    }
    const profile = chooseProfile(this.#o.profiles, source.name, u);
    if (!profile) {
      return this.#deadLetter(
        { topic: origin.topic, payload: origin.payload, code: 'schema', reason: `${source.name}: no mapping profile matches device ${who}${u.deviceProfile ? ` (device profile "${u.deviceProfile}")` : ''}`, hub: sensor.hub, sensor: sensor.sensor, receivedAt },
        finish,
      );
    }
    const mapped = mapUplink(profile, u, receivedAt);
    for (const issue of mapped.issues) this.#report(source.name, profile, issue);
    if (Object.keys(mapped.metrics).length === 0) {
      return this.#deadLetter(
        { topic: origin.topic, payload: origin.payload, code: 'schema', reason: `${source.name}: no field of profile ${profile.name} holds a number in this uplink of ${who}`, hub: sensor.hub, sensor: sensor.sensor, receivedAt },
        finish,
      );
    }
    const ts = this.#dedup(source.name, sensor, mapped.seq, mapped.ts, u.networkTime ?? receivedAt);
    const payload = Buffer.from(JSON.stringify({ ts, seq: mapped.seq, metrics: mapped.metrics, ...(mapped.location ? { location: mapped.location } : {}) }));
    this.#o.intake.submit(dataTopic(sensor), payload, (v: Verdict) => {
      if (v.accepted) finish({ result: 'accepted', hub: sensor.hub, sensor: sensor.sensor, ts, seq: mapped.seq });
      else finish({ result: 'dead_letter', code: v.code, reason: v.reason });
    });
  }

  #sensorOf(source: SourceConfig, u: Uplink): SensorEntry | undefined {
    if (u.device.eui) {
      const s = this.#o.registry.sensorByEui(u.device.eui);
      if (s) return s;
    }
    if (u.device.name && source.hub) return this.#o.registry.getSensor(source.hub, u.device.name);
    return undefined;
  }

  /** The timestamp to store: the first one seen for this device and frame counter, within the window. */
  #dedup(source: string, s: SensorEntry, seq: number, ts: number, networkTime: number): number {
    const key = `${s.hub}.${s.sensor}#${seq}`;
    const prev = this.#seen.get(key);
    if (prev && Math.abs(networkTime - prev.networkTime) <= this.#o.dedupWindowMs) {
      this.#m.duplicates.inc({ source });
      return prev.ts;
    }
    this.#seen.delete(key);
    this.#seen.set(key, { ts, networkTime });
    if (this.#seen.size > MAX_SEEN) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return ts;
  }

  #report(source: string, profile: Profile, issue: FieldIssue): void {
    this.#m.fieldIssues.inc({ source, profile: profile.name, problem: issue.problem });
    const key = `${profile.name}|${issue.field}|${issue.problem}`;
    if (this.#reported.has(key)) return;
    const r: FieldReport = { ...issue, source, profile: profile.name, file: profile.file };
    this.#reported.set(key, r);
    this.#log.warn({ source, profile: profile.name, file: profile.file, field: issue.field, problem: issue.problem }, `connector field: ${issue.detail} (reported once for profile ${profile.name})`);
  }

  /** Keeps a refused message as a dead letter; `done` only once it is written (retried while it cannot be). */
  #deadLetter(d: { topic: string; payload: Buffer; code: RejectionCode; reason: string; hub?: string; sensor?: string; receivedAt: number }, done: (o: Outcome) => void): void {
    const attempt = (): void => {
      try {
        this.#o.deadLetters.add(d);
      } catch (err) {
        this.#log.error({ err, topic: d.topic }, 'could not write a dead letter; not acknowledging, trying again');
        if (!this.#closed) setTimeout(attempt, this.#o.retryMs ?? 1000);
        return;
      }
      this.#log.info({ topic: d.topic, code: d.code }, d.reason);
      done({ result: 'dead_letter', code: d.code, reason: d.reason });
    };
    attempt();
  }
}

function describeDevice(u: Uplink): string {
  const parts = [u.device.eui ? `DevEUI ${u.device.eui}` : undefined, u.device.name ? `"${u.device.name}"` : undefined].filter(Boolean);
  return parts.length ? parts.join(' ') : '(unidentified)';
}
