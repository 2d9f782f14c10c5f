/**
 * The external-broker subscriber: an MQTT 3.1.1 client that owns the timing of its
 * acknowledgements. `steward ingest` uses it to consume from a broker Steward does not run
 * (Mosquitto, EMQX).
 *
 * - It connects with a persistent session (clean=false, a fixed client id), so the broker keeps
 *   what it has not acknowledged across disconnections, and subscribes at QoS 1 (in the
 *   `$share/{group}/...` form when several workers split the load).
 * - Every inbound PUBLISH goes to the sink (the intake) at once; the PUBACK (QoS 1) or PUBREC
 *   (QoS 2) is written only when the sink calls back, i.e. when the reading is durable. Many
 *   messages are in flight together, so the intake commits them in one transaction; the
 *   acknowledgements of a commit leave in one write (cork/uncork), in the order the PUBLISH
 *   packets arrived [MQTT-4.6.0-2].
 * - A message whose connection died before its acknowledgement is redelivered by the broker (DUP)
 *   on the same session. If it became durable meanwhile, it is acknowledged without a second
 *   submission; after a crash of the process it is submitted again (at least once: storage
 *   keeps one point per series and timestamp).
 * - Keepalive (PINGREQ, and a new connection when no PINGRESP comes back within the keepalive),
 *   reconnection with capped exponential backoff, outbound publishes at QoS 0 and 1 (unacknowledged
 *   QoS 1 publishes are resent with DUP after a reconnection), and a clean DISCONNECT on `stop`
 *   once the sink has committed what it holds and its acknowledgements are written.
 *
 * Built on mqtt-packet (parser and generator) over `node:net` / `node:tls`; no private API of any
 * library is used.
 * @module
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { backoffDelay, JITTER_HALF } from '../core/backoff.ts';
import { createError } from '../core/errors.ts';
import type { Logger } from '../telemetry/log.ts';

/** Where inbound messages go: the intake. `done` is called once the message is durable. */
export interface MessageSink {
  submit(topic: string, payload: Buffer, done: () => void): void;
  /** Commits what is waiting now; false when it could not (spool full). */
  flush(): boolean;
}

export interface SubscriberOptions {
  /** `mqtt://host[:1883]` or `mqtts://host[:8883]`. */
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Topic filters. */
  filters: readonly string[];
  /**
   * QoS of the subscription (default 1). 0 only where the broker offers nothing else (The Things
   * Stack): its messages are not acknowledged, so a broker may drop them while we are down.
   */
  qos?: 0 | 1;
  /**
   * When `start`'s time runs out before the first subscription, resolve and keep reconnecting
   * (`connected()` says false meanwhile) instead of failing: for a source that may come up later.
   * A CONNACK or SUBACK refusal still fails the start.
   */
  keepTrying?: boolean;
  sink: MessageSink;
  logger: Logger;
  /** Keepalive, seconds (default 30). */
  keepaliveS?: number;
  /** Time the broker gets to answer CONNECT with CONNACK, ms (default 10 000). */
  connectTimeoutMs?: number;
  /** First reconnection delay, ms (default 500); doubles up to `reconnectMaxMs`. */
  reconnectMinMs?: number;
  /** Longest reconnection delay, ms (default 30 000). */
  reconnectMaxMs?: number;
  /** Messages submitted and not yet acknowledged above which reading from the socket pauses (default 10 000). */
  maxUnacked?: number;
  /** TLS options for `mqtts://` (CA, client certificate, servername). */
  tls?: ConnectionOptions;
  /** Called with every packet right before it is written (tests, debugging). */
  onPacketOut?: (packet: Packet) => void;
  /** Called with every packet received, before it is handled (tests, debugging). */
  onPacketIn?: (packet: Packet) => void;
}

export interface PublishOpts {
  qos: 0 | 1;
  retain?: boolean;
}

export interface Subscriber {
  /**
   * Connects and subscribes. Resolves once the broker granted every filter; rejects on a CONNACK
   * refusal, a refused filter, or when `timeoutMs` passes without a subscription (the subscriber
   * then stops).
   */
  start(timeoutMs?: number): Promise<void>;
  /**
   * Stops taking new messages, lets the sink commit what it holds, writes those
   * acknowledgements, waits (bounded) for outbound QoS 1 acknowledgements, sends DISCONNECT and
   * closes. Messages that arrive meanwhile are left unacknowledged in the broker's session.
   */
  stop(): Promise<void>;
  /** Drops the connection at once, without DISCONNECT or any further acknowledgement (as a crash would). */
  abort(): void;
  /** Is a connection up and past CONNACK? */
  connected(): boolean;
  /** Publishes at QoS 0 (needs a connection) or QoS 1 (resolves on PUBACK; kept and resent across reconnections). */
  publish(topic: string, payload: string | Buffer, opts: PublishOpts): Promise<void>;
  /** Messages submitted to the sink and not yet acknowledged. */
  unacked(): number;
}

/** CONNACK return codes of MQTT 3.1.1, in words. */
const CONNACK_REFUSALS: Record<number, string> = {
  1: 'unacceptable protocol version (the broker does not speak MQTT 3.1.1)',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

/** An error the subscriber cannot recover from by reconnecting (refused CONNACK, refused filter). */
export const SubscriberError = createError<'connack_refused' | 'suback_refused' | 'timeout' | 'bad_url' | 'stopped'>('SubscriberError');
export type SubscriberError = InstanceType<typeof SubscriberError>;

/** One inbound QoS > 0 message of the session, from its arrival to its acknowledgement. */
interface Inbound {
  mid: number;
  qos: 1 | 2;
  topic: string;
  payload: Buffer;
  /** The sink has made it durable. */
  durable: boolean;
  /** QoS 2: PUBREC sent, waiting for PUBREL (the message must not be submitted again). */
  released: boolean;
}

/** An acknowledgement queued on a connection, written in arrival order once ready. */
interface AckSlot {
  entry: Inbound;
}

interface Outbound {
  packet: IPublishPacket;
  /** Written at least once (a resend carries DUP). */
  sent: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One TCP (or TLS) connection and what is queued on it. */
interface Connection {
  id: number;
  socket: Socket;
  open: boolean;
  /** Past CONNACK. */
  ready: boolean;
  acks: AckSlot[];
  corked: boolean;
  pingOutstanding: boolean;
  paused: boolean;
  subscribeMid: number | undefined;
  timers: NodeJS.Timeout[];
}

function parseUrl(raw: string): { secure: boolean; host: string; port: number } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SubscriberError('bad_url', `broker URL "${raw}" is not a URL (expected mqtt://host:port or mqtts://host:port)`);
  }
  const secure = u.protocol === 'mqtts:' || u.protocol === 'ssl:' || u.protocol === 'tls:';
  if (!secure && u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') {
    throw new SubscriberError('bad_url', `broker URL "${raw}": protocol ${u.protocol} is not supported by the ingest subscriber (use mqtt:// or mqtts://)`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = u.port ? Number(u.port) : secure ? 8883 : 1883;
  return { secure, host, port };
}

/** Creates a subscriber; nothing touches the network until `start`. */
export function createSubscriber(o: SubscriberOptions): Subscriber {
  const log = o.logger.child({ component: 'subscriber', clientId: o.clientId });
  const target = parseUrl(o.url);
  const keepaliveMs = (o.keepaliveS ?? 30) * 1000;
  const connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
  const backoffMin = o.reconnectMinMs ?? 500;
  const backoffMax = o.reconnectMaxMs ?? 30_000;
  const maxUnacked = o.maxUnacked ?? 10_000;

  /** Inbound QoS > 0 messages of the session by packet id (survives reconnections, not the process). */
  const inbound = new Map<number, Inbound>();
  /** Outbound QoS 1 publishes by packet id, in the order they were first sent. */
  const outbound = new Map<number, Outbound>();
  let nextMid = 1;
  let conn: Connection | undefined;
  let connSeq = 0;
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  let stopped = false;
  /** Has any connection subscribed in this process? (Later ones re-subscribe only if the session was lost.) */
  let subscribedOnce = false;
  let unackedCount = 0;
  let startWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;

  const failStart = (e: SubscriberError): void => {
    const w = startWaiter;
    startWaiter = undefined;
    if (w) {
      stopping = true;
      stopped = true;
      clearTimeout(reconnectTimer);
      if (conn) closeConnection(conn, true);
      w.reject(e);
    }
  };

  function send(c: Connection, packet: Packet): void {
    if (!c.open) return;
    o.onPacketOut?.(packet);
    c.socket.write(mqttPacket.generate(packet));
  }

  /** Writes acknowledgements in a batch: corks once per tick, uncorks on the next. */
  function sendBatched(c: Connection, packet: Packet): void {
    if (!c.open) return;
    if (!c.corked) {
      c.corked = true;
      c.socket.cork();
      process.nextTick(() => {
        c.corked = false;
        c.socket.uncork();
      });
    }
    send(c, packet);
  }

  /** Writes the ready prefix of the connection's acknowledgement queue, in arrival order. */
  function drainAcks(c: Connection): void {
    let n = 0;
    while (n < c.acks.length && c.acks[n]!.entry.durable) n++;
    if (n === 0) return;
    const ready = c.acks.splice(0, n);
    for (const { entry } of ready) {
      if (entry.qos === 1) {
        if (inbound.get(entry.mid) === entry) inbound.delete(entry.mid);
        sendBatched(c, { cmd: 'puback', messageId: entry.mid });
      } else {
        entry.released = true;
        sendBatched(c, { cmd: 'pubrec', messageId: entry.mid });
      }
    }
    if (c.paused && unackedCount <= maxUnacked / 2) {
      c.paused = false;
      c.pingOutstanding = false;
      c.socket.resume();
      log.info({ unacked: unackedCount }, 'the intake caught up; reading from the broker again');
    }
  }

  function onPublish(c: Connection, p: IPublishPacket): void {
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    if (p.qos === 0) {
      if (!stopping) o.sink.submit(p.topic, payload, () => undefined);
      return;
    }
    const mid = p.messageId;
    if (mid === undefined) {
      log.warn({ topic: p.topic }, 'PUBLISH at QoS > 0 without a packet id; closing the connection');
      closeConnection(c, true);
      return;
    }
    const known = inbound.get(mid);
    if (known && known.topic === p.topic && known.payload.equals(payload)) {
      // Redelivery of a message this session already holds (its connection died before the
      // acknowledgement, or QoS 2 after PUBREC): acknowledge it when durable, never submit twice.
      c.acks.push({ entry: known });
      drainAcks(c);
      return;
    }
    if (stopping) return; // left in the broker's session, redelivered at the next start
    const entry: Inbound = { mid, qos: p.qos, topic: p.topic, payload, durable: false, released: false };
    inbound.set(mid, entry);
    c.acks.push({ entry });
    unackedCount++;
    if (!c.paused && unackedCount >= maxUnacked) {
      c.paused = true;
      c.socket.pause();
      log.warn({ unacked: unackedCount }, 'the intake holds too many unacknowledged messages; not reading from the broker until it catches up');
    }
    o.sink.submit(p.topic, payload, () => {
      entry.durable = true;
      unackedCount--;
      const cur = conn;
      if (cur?.open && cur.ready) drainAcks(cur);
    });
  }

  function onPacket(c: Connection, packet: Packet): void {
    o.onPacketIn?.(packet);
    switch (packet.cmd) {
      case 'connack':
        onConnack(c, packet.returnCode ?? 0, packet.sessionPresent);
        return;
      case 'publish':
        onPublish(c, packet);
        return;
      case 'pubrel': {
        const mid = packet.messageId!;
        const e = inbound.get(mid);
        if (e && e.qos === 2) inbound.delete(mid);
        send(c, { cmd: 'pubcomp', messageId: mid });
        return;
      }
      case 'puback': {
        const out = outbound.get(packet.messageId!);
        if (out) {
          outbound.delete(packet.messageId!);
          out.resolve();
        }
        return;
      }
      case 'suback': {
        if (packet.messageId === undefined || packet.messageId !== c.subscribeMid) return;
        outboundReserved.delete(packet.messageId);
        c.subscribeMid = undefined;
        const granted = packet.granted as number[];
        const refused = o.filters.filter((_, i) => granted[i] === 0x80);
        if (refused.length) {
          const err = new SubscriberError('suback_refused', `the broker refused the subscription to ${refused.join(', ')} (SUBACK 0x80: check the account's ACL, and that the broker supports $share if used)`);
          log.error({ filters: refused }, err.message);
          failStart(err);
          return;
        }
        const degraded = o.filters.filter((_, i) => granted[i] === 0);
        if (degraded.length && (o.qos ?? 1) > 0) log.warn({ filters: degraded }, 'the broker granted QoS 0 only: these messages are not acknowledged and may be lost');
        subscribedOnce = true;
        log.info({ filters: o.filters, granted }, 'subscribed');
        const w = startWaiter;
        startWaiter = undefined;
        w?.resolve();
        return;
      }
      case 'pingresp':
        c.pingOutstanding = false;
        return;
      default:
        log.debug({ cmd: packet.cmd }, 'ignoring an unexpected packet');
    }
  }

  function onConnack(c: Connection, code: number, sessionPresent: boolean): void {
    if (code !== 0) {
      const reason = CONNACK_REFUSALS[code] ?? `return code ${code}`;
      const err = new SubscriberError('connack_refused', `the broker at ${o.url} refused the connection of "${o.clientId}": ${reason}`);
      log.error({ url: o.url, returnCode: code }, err.message);
      closeConnection(c, true);
      failStart(err);
      return;
    }
    c.ready = true;
    attempt = 0;
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    log.info({ url: o.url, sessionPresent, unacked: unackedCount, outbound: outbound.size }, 'connected to the broker');
    if (!sessionPresent) {
      // The broker lost our session (or never had it): nothing will be redelivered and its packet
      // ids start over. What the sink holds still becomes durable; nobody waits for its ack.
      inbound.clear();
    }
    // Acknowledgements of messages that became durable while disconnected go out when the broker
    // redelivers them (same packet id, DUP), matched in onPublish.
    for (const out of outbound.values()) {
      out.packet.dup = out.sent;
      out.sent = true;
      send(c, out.packet);
    }
    if (!subscribedOnce || !sessionPresent) {
      const mid = allocMid();
      c.subscribeMid = mid;
      outboundReserved.add(mid);
      send(c, { cmd: 'subscribe', messageId: mid, subscriptions: o.filters.map((topic) => ({ topic, qos: o.qos ?? 1 })) });
    }
    scheduleKeepalive(c);
  }

  /** Packet ids of SUBSCRIBE packets (not tracked in `outbound`). */
  const outboundReserved = new Set<number>();

  function allocMid(): number {
    for (let i = 0; i < 65535; i++) {
      const mid = nextMid;
      nextMid = nextMid === 65535 ? 1 : nextMid + 1;
      if (!outbound.has(mid) && !outboundReserved.has(mid)) return mid;
    }
    throw new Error('no free MQTT packet id: 65,535 publishes are waiting for acknowledgement');
  }

  function scheduleKeepalive(c: Connection): void {
    if (keepaliveMs <= 0) return;
    const tick = (): void => {
      if (!c.open) return;
      if (c.pingOutstanding && !c.paused) {
        log.warn({ keepaliveS: keepaliveMs / 1000 }, 'no PINGRESP within the keepalive; reconnecting');
        closeConnection(c, true);
        return;
      }
      c.pingOutstanding = true;
      send(c, { cmd: 'pingreq' });
      c.timers.push(setTimeout(tick, keepaliveMs));
    };
    c.timers.push(setTimeout(tick, keepaliveMs));
  }

  function closeConnection(c: Connection, destroy: boolean): void {
    if (!c.open) return;
    c.open = false;
    c.ready = false;
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    if (destroy) c.socket.destroy();
    else c.socket.end();
  }

  function onClosed(c: Connection, err?: Error): void {
    const wasReady = c.ready;
    c.open = false;
    c.ready = false;
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    if (c.subscribeMid !== undefined) outboundReserved.delete(c.subscribeMid);
    if (conn === c) conn = undefined;
    if (stopping) return;
    const delay = nextDelay();
    if (wasReady) log.warn({ url: o.url, err: err?.message, unacked: unackedCount, retryInMs: delay }, 'disconnected from the broker; reconnecting');
    else log.warn({ url: o.url, err: err?.message, attempt, retryInMs: delay }, 'cannot connect to the broker; retrying');
    scheduleReconnect(delay);
  }

  /** Capped exponential backoff with jitter (half to all of the step). */
  function nextDelay(): number {
    return backoffDelay(attempt + 1, { initialMs: backoffMin, maxMs: backoffMax, jitter: JITTER_HALF });
  }

  function scheduleReconnect(delay: number): void {
    if (stopping || reconnectTimer) return;
    attempt++;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      openConnection();
    }, delay);
  }

  function openConnection(): void {
    if (stopping) return;
    const socket = target.secure
      ? tlsConnect({ host: target.host, port: target.port, ...(isIP(target.host) ? {} : { servername: target.host }), ...o.tls })
      : netConnect({ host: target.host, port: target.port });
    const c: Connection = { id: ++connSeq, socket, open: true, ready: false, acks: [], corked: false, pingOutstanding: false, paused: false, subscribeMid: undefined, timers: [] };
    conn = c;
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      if (c.open) onPacket(c, p);
    });
    parser.on('error', (e: Error) => {
      log.error({ err: e.message }, 'malformed packet from the broker; closing the connection');
      closeConnection(c, true);
    });
    socket.on('data', (b: Buffer) => {
      if (c.open) parser.parse(b);
    });
    let lastErr: Error | undefined;
    socket.on('error', (e) => {
      lastErr = e;
    });
    socket.on('close', () => onClosed(c, lastErr));
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      send(c, {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: o.clientId,
        clean: false,
        keepalive: Math.round(keepaliveMs / 1000),
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: Buffer.from(o.password) } : {}),
      });
    });
    c.timers.push(
      setTimeout(() => {
        if (c.open && !c.ready) {
          log.warn({ url: o.url, connectTimeoutMs }, 'no CONNACK in time; reconnecting');
          closeConnection(c, true);
        }
      }, connectTimeoutMs),
    );
  }

  return {
    start(timeoutMs = 30_000) {
      if (stopping) return Promise.reject(new SubscriberError('stopped', 'the subscriber was stopped'));
      if (conn || startWaiter) return Promise.reject(new Error('the subscriber is already started'));
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          if (!o.keepTrying) return failStart(new SubscriberError('timeout', `not subscribed at ${o.url} within ${timeoutMs} ms (is the broker up?)`));
          log.warn({ url: o.url }, `not subscribed at ${o.url} within ${timeoutMs} ms; still trying`);
          const w = startWaiter;
          startWaiter = undefined;
          w?.resolve();
        }, timeoutMs);
        startWaiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        openConnection();
      });
    },

    async stop() {
      if (stopped) return;
      stopping = true;
      stopped = true;
      clearTimeout(reconnectTimer);
      failStart(new SubscriberError('stopped', 'the subscriber was stopped before it subscribed'));
      // Commit what the sink holds: its callbacks write the acknowledgements.
      if (!o.sink.flush()) log.warn({ unacked: unackedCount }, 'stopping while the intake cannot commit; those messages stay unacknowledged in the broker session and will be redelivered');
      const c = conn;
      if (c?.open && c.ready) {
        drainAcks(c);
        // Let our QoS 1 publishes (rejections) be acknowledged, for a bounded time.
        const until = Date.now() + 2000;
        while (outbound.size > 0 && c.open && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        send(c, { cmd: 'disconnect' });
        const closed = new Promise<void>((r) => c.socket.once('close', () => r()));
        closeConnection(c, false);
        const force = setTimeout(() => c.socket.destroy(), 2000);
        await closed;
        clearTimeout(force);
      } else if (c) {
        closeConnection(c, true);
      }
      for (const out of outbound.values()) out.reject(new SubscriberError('stopped', 'the subscriber stopped before the broker acknowledged this publish'));
      outbound.clear();
      log.info({ unacked: unackedCount }, 'subscriber stopped');
    },

    abort() {
      stopping = true;
      stopped = true;
      clearTimeout(reconnectTimer);
      if (conn) closeConnection(conn, true);
      failStart(new SubscriberError('stopped', 'the subscriber was aborted'));
    },

    connected: () => conn?.ready === true,

    unacked: () => unackedCount,

    publish(topic, payload, opts) {
      const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
      if (opts.qos === 0) {
        const c = conn;
        if (!c?.ready) return Promise.reject(new Error(`not connected to ${o.url}`));
        send(c, { cmd: 'publish', topic, payload: body, qos: 0, retain: opts.retain ?? false, dup: false });
        return Promise.resolve();
      }
      if (stopping) return Promise.reject(new SubscriberError('stopped', 'the subscriber is stopping'));
      return new Promise<void>((resolve, reject) => {
        let mid: number;
        try {
          mid = allocMid();
        } catch (e) {
          reject(e as Error);
          return;
        }
        const packet: IPublishPacket = { cmd: 'publish', topic, payload: body, qos: 1, retain: opts.retain ?? false, dup: false, messageId: mid };
        const out: Outbound = { packet, sent: false, resolve, reject };
        outbound.set(mid, out);
        const c = conn;
        if (c?.ready) {
          out.sent = true;
          send(c, packet);
        }
      });
    },
  };
}
