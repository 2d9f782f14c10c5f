/**
 * The upstream publisher: forwards filtered records and critical alerts to the regional broker.
 *
 * Everything goes through a durable outbox first (SQLite `upstream-outbox.db` under the data dir):
 * `enqueue` returns once the records are on disk, and a pump sends them in order, QoS 1, at most
 * `maxInflight` unacknowledged at a time, deleting each row on its PUBACK. While the region is
 * unreachable the outbox grows (bounded by `maxBuffered`, oldest dropped and counted); on every
 * (re)connection the pump starts again from the oldest row still there. Each connection is a
 * fresh mqtt.js client (`reconnectPeriod: 0`, reconnection with capped backoff here), so mqtt.js
 * never resends on its own and the outbox is the only source of retransmissions.
 *
 * Delivery is at least once: a message in flight when the connection drops is sent again.
 * Records are idempotent at the region (hub, sensor and timestamp identify them), as in storage.
 *
 * On a cluster (`handover` given) one node per hub runs the upstream: the holder of the hub's
 * upstream lease (cluster/upstream.ts) is told to `lead` and connects to the region; every other
 * node `follow`s: its pump hands its outbox rows over (to a Redis stream) instead of connecting,
 * deleting each batch once handed over, and the leader `accept`s them into its own outbox. So the
 * region sees one client per hub, and no row is dropped on the way (a batch handed over twice is
 * sent twice: at least once still).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ATTRIBUTES, metricDef } from '../core/catalogue.ts';
import { Backoff } from '../core/backoff.ts';
import { isId } from '../core/ids.ts';
import { openSqlite } from '../core/sqlite.ts';
import type { StoredReading } from '../core/store.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { PrivacyError, scrubText, snapToGridCell, toPublicRecord } from '../privacy/index.ts';

/** File of the outbox under the data dir. */
export const UPSTREAM_DB = 'upstream-outbox.db';

/** A message of the outbox: already past the privacy boundary, for the regional broker. */
export interface OutboxRow {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

/** Hands rows over to the node that runs the hub's upstream; resolves once they are stored there. */
export type UpstreamHandover = (rows: readonly OutboxRow[]) => Promise<void>;

/** Options of {@link createUpstream}. */
export interface UpstreamOptions {
  /** Regional broker, e.g. `mqtts://region.example.org:8883`. */
  url: string;
  username?: string;
  password?: string;
  /** MQTT client id at the region (default `steward-upstream-{hub}`). */
  clientId?: string;
  /** This hub's id: the topics carry it, and records of other hubs are refused. */
  hub: string;
  /** Directory of the outbox; in memory when absent (tests only: not durable). */
  dataDir?: string;
  /** Topic root at the region (default `public/v1`): `{root}/{hub}/{domain}/{sensor}`, `{root}/{hub}/alerts/{rule}/{subject}`. */
  topicPrefix?: string;
  /** Most rows kept while the region is unreachable (default 1 000 000); beyond, the oldest are dropped and counted. */
  maxBuffered?: number;
  /** Most messages awaiting PUBACK (default 20). */
  maxInflight?: number;
  /** Reconnection backoff, ms (default 500 doubling to 30 000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Alert severities forwarded (default `['critical']`). */
  alertSeverities?: readonly string[];
  logger?: Logger;
  /** Registers steward_upstream_* metrics on its registry; refused records count in privacyActions{withheld}. */
  metrics?: Pick<PipelineMetrics, 'registry' | 'privacyActions'>;
  /** Extra mqtt.js options (TLS CA, keepalive…). */
  mqttOptions?: IClientOptions;
  /**
   * On a cluster: where this node's rows go while another node runs the hub's upstream. With it
   * the upstream starts as a follower (no connection to the region) until `lead()`.
   */
  handover?: UpstreamHandover;
}

/** An alert of the rules engine, as forwarded upstream (retained; `payload: null` clears it). */
export interface UpstreamAlert {
  rule: string;
  subject: string;
  severity: string;
  payload: unknown;
}

export interface UpstreamStats {
  buffered: number;
  inflight: number;
  sent: number;
  dropped: number;
  refused: number;
  connected: boolean;
  /** Rows handed over to the node that runs the hub's upstream (cluster). */
  handedOver: number;
  /** Whether this node runs the upstream (always, without a cluster). */
  leading: boolean;
}

export interface Upstream {
  /** Starts connecting (in the background: an unreachable region is normal). */
  start(): void;
  /**
   * Buffers filtered records durably (returns once they are on disk) and wakes the pump.
   * Records that did not pass the boundary, or belong to another hub, are refused and counted.
   * @returns how many were accepted
   */
  enqueue(records: readonly StoredReading[]): number;
  /**
   * Buffers an alert if its severity is forwarded (default: critical only). Its payload is
   * scrubbed: personal attribute and metric keys removed, free text scrubbed, coordinates rounded
   * to 0.01°. @returns whether it was accepted
   */
  forwardAlert(alert: UpstreamAlert): boolean;
  /**
   * Rows another node of the cluster handed over: buffered durably, like this node's own. Rows
   * whose topic is not this hub's upstream topic are refused and counted. @returns how many were accepted
   */
  accept(rows: readonly OutboxRow[]): number;
  /** On a cluster: this node now runs the hub's upstream (connects to the region and drains the outbox there). */
  lead(): void;
  /** On a cluster: another node runs it; disconnects from the region and hands the outbox over. Needs `handover`. */
  follow(): Promise<void>;
  /** Resolves when the outbox is empty and nothing is in flight, or rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  stats(): UpstreamStats;
  connected(): boolean;
  /** Stops reconnecting, waits up to `drainMs` (default 2000) for messages in flight, closes. What is left stays in the outbox. */
  stop(drainMs?: number): Promise<void>;
}

interface Row {
  id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
}

interface UpstreamMetrics {
  buffered: Gauge;
  connected: Gauge;
  sent: Counter;
  dropped: Counter<'reason'>;
  leading: Gauge;
  handedOver: Counter;
}

function metricsOn(registry: Registry): UpstreamMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    buffered: get('steward_upstream_buffered', () => new Gauge({ name: 'steward_upstream_buffered', help: 'Messages in the upstream outbox (not yet acknowledged by the region)', registers })),
    connected: get('steward_upstream_connected', () => new Gauge({ name: 'steward_upstream_connected', help: '1 while connected to the regional broker', registers })),
    sent: get('steward_upstream_sent_total', () => new Counter({ name: 'steward_upstream_sent_total', help: 'Messages acknowledged by the regional broker', registers })),
    dropped: get('steward_upstream_dropped_total', () => new Counter({ name: 'steward_upstream_dropped_total', help: 'Messages not forwarded upstream, by reason', labelNames: ['reason'], registers })),
    leading: get('steward_upstream_leading', () => new Gauge({ name: 'steward_upstream_leading', help: '1 while this node runs its hub\'s upstream publisher (on a cluster, one node per hub)', registers })),
    handedOver: get('steward_upstream_handed_over_total', () => new Counter({ name: 'steward_upstream_handed_over_total', help: 'Messages handed over to the node that runs the upstream publisher (cluster)', registers })),
  };
}

const PERSONAL_KEYS = new Set([...Object.entries(ATTRIBUTES).filter(([, d]) => d.personal && d.type !== 'boolean').map(([k]) => k)]);

/** Scrubs an alert payload: no personal keys, no contact details, no fine coordinates. */
export function scrubAlertPayload(v: unknown, depth = 0): unknown {
  if (depth > 20) return null;
  if (typeof v === 'string') return scrubText(v).text;
  if (Array.isArray(v)) return v.map((x) => scrubAlertPayload(x, depth + 1));
  if (v === null || typeof v !== 'object') return typeof v === 'number' || typeof v === 'boolean' ? v : null;
  const o = v as Record<string, unknown>;
  if (typeof o.lat === 'number' && typeof o.lon === 'number' && Number.isFinite(o.lat) && Number.isFinite(o.lon) && Math.abs(o.lat) <= 90 && Math.abs(o.lon) <= 180) {
    const c = snapToGridCell({ lat: o.lat, lon: o.lon }, 0.01);
    return { lat: c.lat, lon: c.lon };
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (PERSONAL_KEYS.has(k) || metricDef(k)?.personal) continue;
    if (k === 'payload' && typeof o[k] === 'string') continue; // raw payloads never leave
    out[k] = scrubAlertPayload(o[k], depth + 1);
  }
  return out;
}

/**
 * Creates the upstream publisher and opens its outbox (no network until `start`).
 *
 * @throws PrivacyError `PRIVACY_ERR_OPTIONS` on an invalid hub id, URL or topic prefix
 */
export function createUpstream(o: UpstreamOptions): Upstream {
  if (!isId(o.hub)) throw new PrivacyError('PRIVACY_ERR_OPTIONS', `upstream: hub ${JSON.stringify(o.hub)} is not a valid id`);
  try {
    new URL(o.url);
  } catch {
    throw new PrivacyError('PRIVACY_ERR_OPTIONS', 'upstream: url is not a URL (e.g. mqtts://region.example.org:8883)');
  }
  const prefix = o.topicPrefix ?? 'public/v1';
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(prefix)) throw new PrivacyError('PRIVACY_ERR_OPTIONS', `upstream: topicPrefix ${JSON.stringify(prefix)} must be topic levels of letters, digits, _ and -`);
  const maxBuffered = o.maxBuffered ?? 1_000_000;
  const maxInflight = o.maxInflight ?? 20;
  const backoffOptions = { initialMs: o.reconnectMinMs ?? 500, maxMs: o.reconnectMaxMs ?? 30_000 };
  const severities = new Set(o.alertSeverities ?? ['critical']);
  const log = o.logger;
  const m = o.metrics ? metricsOn(o.metrics.registry) : undefined;

  const db = openSqlite(o.dataDir, UPSTREAM_DB, {
    synchronous: 'NORMAL',
    migrations: ['CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, at INTEGER NOT NULL)'],
  });
  const st = {
    insert: db.prepare('INSERT INTO outbox (topic, payload, qos, retain, at) VALUES (?, ?, ?, ?, ?)'),
    next: db.prepare('SELECT id, topic, payload, qos, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?'),
    remove: db.prepare('DELETE FROM outbox WHERE id = ?'),
    count: db.prepare('SELECT COUNT(*) AS n FROM outbox'),
    trim: db.prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)'),
    removeUpTo: db.prepare('DELETE FROM outbox WHERE id <= ?'),
  };
  let buffered = (st.count.get() as { n: number }).n;
  const insertMany = db.transaction((rows: Array<{ topic: string; payload: Buffer; qos: number; retain: boolean }>) => {
    const at = Date.now();
    for (const r of rows) st.insert.run(r.topic, r.payload, r.qos, r.retain ? 1 : 0, at);
  });

  let client: MqttClient | undefined;
  let isConnected = false;
  let started = false;
  let stopping = false;
  let closed = false;
  const backoff = new Backoff(backoffOptions);
  let reconnectTimer: NodeJS.Timeout | undefined;
  /** Highest id handed to the current connection. */
  let cursor = 0;
  const inflight = new Set<number>();
  let sent = 0;
  let dropped = 0;
  let refused = 0;
  let generation = 0;
  let idleWaiters: Array<() => void> = [];
  let warnedDown = false;
  // Cluster: whether this node runs the upstream, and the hand-over loop of a follower.
  let leading = !o.handover;
  let handedOver = 0;
  let relayRun: Promise<void> | undefined;
  let relayTimer: NodeJS.Timeout | undefined;
  const relayBackoff = new Backoff(backoffOptions);
  let warnedRelay = false;
  m?.leading.set(leading ? 1 : 0);

  const gauge = (): void => {
    m?.buffered.set(buffered);
  };
  gauge();

  const checkIdle = (): void => {
    if (buffered === 0 && inflight.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  const add = (rows: Array<{ topic: string; payload: Buffer; qos: number; retain: boolean }>): void => {
    if (closed) throw new PrivacyError('PRIVACY_ERR_STATE', 'upstream used after stop()');
    if (!rows.length) return;
    insertMany(rows);
    buffered += rows.length;
    if (buffered > maxBuffered) {
      const n = buffered - maxBuffered;
      const removed = st.trim.run(n).changes;
      buffered -= removed;
      dropped += removed;
      m?.dropped.inc({ reason: 'overflow' }, removed);
      log?.warn({ dropped: removed, maxBuffered }, 'upstream outbox full: oldest messages dropped');
    }
    gauge();
    pump();
  };

  function pump(): void {
    if (!leading) return relay();
    if (!client || !isConnected || stopping) return;
    const c = client;
    const gen = generation;
    while (inflight.size < maxInflight) {
      const rows = st.next.all(cursor, maxInflight - inflight.size) as Row[];
      if (!rows.length) break;
      for (const row of rows) {
        cursor = row.id;
        inflight.add(row.id);
        c.publish(row.topic, row.payload, { qos: row.qos as 0 | 1, retain: row.retain === 1 }, (err) => {
          // A callback of an earlier connection: that connection is gone, its rows are resent.
          if (gen !== generation) return;
          inflight.delete(row.id);
          if (err) return;
          if (!closed) {
            const removed = st.remove.run(row.id).changes;
            buffered -= removed;
          }
          sent++;
          m?.sent.inc();
          gauge();
          pump();
          checkIdle();
        });
      }
    }
  }

  /** A follower's pump: hands the outbox over in order, batch by batch, deleting each once stored at the leader's side. */
  function relay(): void {
    if (relayRun || leading || !started || stopping || relayTimer) return;
    const handover = o.handover!;
    relayRun = (async () => {
      // Runs after `relayRun` is set (with an empty outbox it would otherwise finish before).
      await null;
      try {
        for (;;) {
          if (leading || stopping || closed) return;
          const rows = st.next.all(0, 500) as Row[];
          if (!rows.length) break;
          await handover(rows.map((r) => ({ topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain === 1 })));
          if (closed) return; // handed over but still here: sent again after a restart (at least once)
          buffered -= st.removeUpTo.run(rows[rows.length - 1]!.id).changes;
          handedOver += rows.length;
          m?.handedOver.inc(rows.length);
          gauge();
        }
        relayBackoff.reset();
        if (warnedRelay) log?.info({ buffered }, 'upstream hand-over to the cluster works again');
        warnedRelay = false;
        checkIdle();
      } catch (err) {
        if (!warnedRelay) log?.warn({ err: { message: (err as Error).message }, buffered }, 'upstream messages cannot be handed over to the cluster; they stay in this node\'s outbox');
        warnedRelay = true;
        relayTimer = setTimeout(() => {
          relayTimer = undefined;
          relay();
        }, relayBackoff.next());
        relayTimer.unref?.();
      } finally {
        relayRun = undefined;
      }
    })();
  }

  /** Drops the connection to the region (what is unacknowledged stays in the outbox). */
  async function disconnect(): Promise<void> {
    clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    const c = client;
    generation++;
    client = undefined;
    isConnected = false;
    inflight.clear();
    m?.connected.set(0);
    if (c) {
      c.removeAllListeners();
      c.on('error', () => {});
      await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
    }
  }

  function scheduleReconnect(): void {
    if (stopping || reconnectTimer || !leading) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connect();
    }, backoff.next());
    reconnectTimer.unref?.();
  }

  function connect(): void {
    if (stopping || !leading) return;
    const gen = ++generation;
    const opts: IClientOptions = {
      connectTimeout: 10_000,
      keepalive: 30,
      ...o.mqttOptions,
      clientId: o.clientId ?? `steward-upstream-${o.hub}`,
      clean: true,
      reconnectPeriod: 0,
    };
    if (o.username !== undefined) opts.username = o.username;
    if (o.password !== undefined) opts.password = o.password;
    const c = mqtt.connect(o.url, opts);
    client = c;
    c.on('connect', () => {
      if (gen !== generation) return;
      isConnected = true;
      backoff.reset();
      cursor = 0;
      inflight.clear();
      m?.connected.set(1);
      log?.info({ url: redactUrl(o.url), buffered }, warnedDown ? 'regional broker reachable again; draining the outbox' : 'connected to the regional broker');
      warnedDown = false;
      pump();
    });
    c.on('error', (err) => {
      if (gen !== generation) return;
      if (!warnedDown) log?.warn({ url: redactUrl(o.url), err: { message: err.message } }, 'regional broker unreachable; buffering upstream messages');
      warnedDown = true;
    });
    c.on('close', () => {
      if (gen !== generation) return;
      const was = isConnected;
      isConnected = false;
      inflight.clear();
      m?.connected.set(0);
      if (was && !warnedDown) log?.warn({ url: redactUrl(o.url), buffered }, 'connection to the regional broker lost; buffering upstream messages');
      if (was) warnedDown = true;
      // Drop this client for good: its callbacks and its own resend store die with it.
      generation++;
      c.removeAllListeners();
      c.on('error', () => {});
      c.end(true);
      if (client === c) client = undefined;
      scheduleReconnect();
    });
  }

  return {
    start() {
      if (closed) throw new PrivacyError('PRIVACY_ERR_STATE', 'upstream started after stop()');
      if (started) return;
      started = true;
      if (leading) connect();
      else relay();
    },
    enqueue(records) {
      const rows: Array<{ topic: string; payload: Buffer; qos: number; retain: boolean }> = [];
      for (const r of records) {
        try {
          if (r.hub !== o.hub) throw new PrivacyError('PRIVACY_ERR_UNFILTERED', `record of hub ${JSON.stringify(String(r.hub).slice(0, 64))}; this upstream forwards hub ${o.hub}`);
          const rec = toPublicRecord(r);
          rows.push({ topic: `${prefix}/${rec.hub}/${rec.domain}/${rec.sensor}`, payload: Buffer.from(JSON.stringify(rec)), qos: 1, retain: false });
        } catch (e) {
          refused++;
          o.metrics?.privacyActions.inc({ action: 'withheld' });
          m?.dropped.inc({ reason: 'refused' });
          log?.error({ code: (e as PrivacyError).code, reason: (e as Error).message }, 'record refused by the upstream publisher');
        }
      }
      add(rows);
      return rows.length;
    },
    accept(rows) {
      const ours = `${prefix}/${o.hub}/`;
      const ok = rows.filter((r) => r.topic.startsWith(ours) && Buffer.isBuffer(r.payload) && (r.qos === 0 || r.qos === 1));
      if (ok.length < rows.length) {
        const n = rows.length - ok.length;
        refused += n;
        m?.dropped.inc({ reason: 'refused' }, n);
        log?.error({ refused: n, hub: o.hub }, `rows handed over that are not this hub's upstream messages (topic outside ${ours}) were refused`);
      }
      add(ok.map((r) => ({ topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain })));
      return ok.length;
    },
    lead() {
      if (leading || closed) return;
      leading = true;
      m?.leading.set(1);
      clearTimeout(relayTimer);
      relayTimer = undefined;
      log?.info({ buffered }, 'this node runs the hub\'s upstream publisher');
      // A hand-over still running stops at its next batch; the connection resends from the oldest row.
      if (started) connect();
    },
    async follow() {
      if (!o.handover) throw new PrivacyError('PRIVACY_ERR_STATE', 'upstream.follow() needs a handover (cluster)');
      if (!leading || closed) return;
      leading = false;
      m?.leading.set(0);
      await disconnect();
      log?.info({ buffered }, 'another node runs the hub\'s upstream publisher; this node hands its messages over');
      relay();
    },
    forwardAlert(a) {
      if (!severities.has(a.severity)) return false;
      if (!isId(a.rule) || !isId(a.subject)) {
        refused++;
        m?.dropped.inc({ reason: 'refused' });
        log?.error({ rule: String(a.rule).slice(0, 64) }, 'alert refused by the upstream publisher: rule and subject must be ids');
        return false;
      }
      const body = a.payload === null ? Buffer.alloc(0) : Buffer.from(JSON.stringify({ rule: a.rule, subject: a.subject, severity: a.severity, hub: o.hub, ...(scrubAlertPayload(a.payload) as object) }));
      add([{ topic: `${prefix}/${o.hub}/alerts/${a.rule}/${a.subject}`, payload: body, qos: 1, retain: true }]);
      return true;
    },
    idle(timeoutMs = 10_000) {
      if (buffered === 0 && inflight.size === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          idleWaiters = idleWaiters.filter((f) => f !== done);
          reject(new Error(`upstream not idle after ${timeoutMs} ms (${buffered} buffered, ${inflight.size} in flight)`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(t);
          resolve();
        };
        idleWaiters.push(done);
      });
    },
    stats: () => ({ buffered, inflight: inflight.size, sent, dropped, refused, connected: isConnected, handedOver, leading }),
    connected: () => isConnected,
    async stop(drainMs = 2000) {
      if (closed) return;
      stopping = true;
      clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      clearTimeout(relayTimer);
      relayTimer = undefined;
      const until = Date.now() + drainMs;
      while (inflight.size > 0 && isConnected && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      // A hand-over under way finishes its batch (or the time runs out: the batch is handed over again later).
      if (relayRun) await Promise.race([relayRun, new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref?.())]);
      // Forced: what is still unacknowledged stays in the outbox and is sent after the next start.
      await disconnect();
      closed = true;
      db.close();
    },
  };
}

/** The URL without credentials, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
