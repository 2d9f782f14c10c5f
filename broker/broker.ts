/**
 * The hub's MQTT broker: Aedes 1.2 behind three listeners (TCP, WebSocket, TLS), with the
 * registry for authentication, the ACL of ./acl.ts, a byte guard (./guard.ts) in front of every
 * connection, a connection cap, and device status (online/offline, retained) published by the
 * broker itself. See broker/README.md.
 * @module
 */
import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { statusTopic } from '../core/topics.ts';
import type { Registry } from '../registry/index.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { Logger } from '../telemetry/log.ts';
import { MAX_CLIENT_ID_LENGTH, aclFor, canPublish, canReceive, canSubscribe, clientIdProblem, filterWithin, identifierProblem, isValidFilter, isValidTopicName, sessionOwner, type Acl, type BrokerPrincipal } from './acl.ts';
import { BrokerError, type RefusalReason } from './errors.ts';
import { guardConnection } from './guard.ts';
import { LoginGuard } from './login-guard.ts';

/**
 * Where a publish the broker has taken care of goes instead of its topic: readings the intake made
 * durable (their raw-tier copy is sent separately) and refused publishes (acknowledged and
 * dropped). No client may subscribe to it and nothing is forwarded from it.
 */
export const SINK_TOPIC = '$steward/sink';

/** Raw-tier copies (QoS 0) in flight at most; past it copies are dropped and counted. */
const RAW_FEED_MAX_IN_FLIGHT = 10_000;

/** Deepest topic accepted, levels (Aedes default 100; the v1 scheme uses at most 6). */
export const MAX_TOPIC_LEVELS = 32;

/** Options of {@link createBroker}. */
export interface BrokerOptions {
  /** The `mqtt` section of the config: host, ports (0 = any free port), TLS files, limits. */
  config: Config['mqtt'];
  /** Devices and accounts; looked up at every CONNECT, so registrations take effect at once. */
  registry: Registry;
  logger: Logger;
  metrics?: PipelineMetrics;
  /** Time source of the status timestamps (default: the system clock). */
  clock?: Clock;
  /** Time a socket gets to deliver its CONNECT packet, ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Aedes heartbeat, ms (default 60 000); offline wills of dead cluster peers go out after 4×. */
  heartbeatIntervalMs?: number;
  /** Aedes persistence (e.g. aedes-persistence-redis to share sessions between instances); in memory by default. */
  persistence?: AedesOptions['persistence'];
  /** Aedes message emitter (e.g. mqemitter-redis); in memory by default. */
  mq?: AedesOptions['mq'];
  /** Broker id (default: random); must be unique among instances sharing `mq`. */
  id?: string;
  /**
   * Called for every publish the ACL refused (it is acknowledged and dropped, as Mosquitto does
   * under MQTT 3.1.1), so the refused message is kept as a dead letter with its reason.
   */
  onRefusedPublish?: (refusal: RefusedPublish) => void;
  /**
   * The durable intake (ingest/intake.ts). When set, a device's reading is validated and committed
   * to the spool inside the publish path, and the device's PUBACK waits for the commit. Without it
   * the broker is a plain relay.
   */
  intake?: IntakeSink;
  /**
   * The ACL of a principal (default: acl.ts `aclFor`). A seam for harnesses only, e.g. the Paho
   * interoperability suite (scripts/paho-interop.ts), whose topics lie outside Steward's scheme.
   */
  aclFor?: (principal: BrokerPrincipal) => Acl;
}

/** What the broker needs of the intake. */
export interface IntakeSink {
  submit(topic: string, payload: Buffer, done: (verdict: { accepted: boolean }) => void): void;
  /** Commits what is waiting (graceful shutdown). */
  flush(): boolean;
}

/** A publish the broker refused. `username` is the authenticated principal, if any. */
export interface RefusedPublish {
  clientId: string | undefined;
  username: string | undefined;
  topic: string;
  payload: Buffer;
  reason: string;
}

/** The ports the listeners actually bound. */
export interface BrokerPorts {
  mqtt: number;
  ws: number;
  /** Present only when a TLS certificate and key are configured. */
  tls?: number;
}

/** Options of an in-process publish. */
export interface PublishOptions {
  /** Default 0. */
  qos?: 0 | 1 | 2;
  /** Default false. */
  retain?: boolean;
}

/** A message delivered to an in-process subscriber. */
export type MessageHandler = (topic: string, payload: Buffer, packet: AedesPublishPacket) => void | Promise<void>;

/** The running broker. Lifecycle: `createBroker` (no network) → `start` → `stop`. */
export interface Broker {
  /** Creates Aedes and binds the listeners. Throws BrokerError (BROKER_ERR_STATE, _TLS, _LISTEN). */
  start(): Promise<BrokerPorts>;
  /** Stops accepting, disconnects every client (devices go offline), closes Aedes. Idempotent. */
  stop(): Promise<void>;
  /** MQTT clients past CONNACK. */
  connectedClients(): number;
  /** True between a successful `start` and `stop`. */
  isUp(): boolean;
  /** The bound ports, once started. */
  ports(): BrokerPorts | undefined;
  /** The Aedes instance, for in-process use. Throws BrokerError BROKER_ERR_STATE before `start`. */
  readonly aedes: Aedes;
  /**
   * Publishes in-process (trusted: no ACL). Resolves once Aedes has stored (retained, QoS > 0
   * offline queues) and dispatched the message. Throws BrokerError (BROKER_ERR_TOPIC, _PUBLISH, _STATE).
   */
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  /**
   * Subscribes in-process (trusted: no ACL, no session, no retained messages, no acknowledgement:
   * the handler is called and not awaited, errors are logged). Resolves to an unsubscribe function.
   */
  subscribe(filter: string, handler: MessageHandler): Promise<() => Promise<void>>;
  /**
   * Would a message on `topic` reach a subscriber of this broker (a connected client or an
   * in-process subscription)? Lets publishers skip work nobody asked for.
   */
  hasSubscribers(topic: string): boolean;
  /** Could a message on some topic under `root` (e.g. `public/v1`) reach a subscriber of this broker? */
  hasSubscribersWithin(root: string): boolean;
}

/**
 * Creates the broker without touching the network. Throws BrokerError BROKER_ERR_OPTIONS when
 * the options are unusable.
 */
export function createBroker(opts: BrokerOptions): Broker {
  return new MqttBroker(opts);
}

/** What the broker knows about an authenticated client. */
interface Session {
  principal: BrokerPrincipal;
  acl: Acl;
  /** The ACL's answer for topics this client published to (a device uses two): not re-checked per message. */
  mayPublish: Map<string, boolean>;
}

/** Who holds a client id: only the same principal may take it over (see acl.ts sessionOwner). */
interface IdBinding {
  owner: string;
  holder: Client;
  /** clean=false: the session outlives the connection, and so does the binding. */
  persistent: boolean;
}

type AuthError = Error & { returnCode: number };
const authError = (returnCode: 2 | 3 | 4 | 5, reason: RefusalReason | 'registry', message: string): AuthError & { reason: RefusalReason | 'registry' } =>
  Object.assign(new Error(message), { returnCode, reason });

type Listener = 'mqtt' | 'ws' | 'tls';

class MqttBroker implements Broker {
  readonly #config: Config['mqtt'];
  readonly #registry: Registry;
  readonly #log: Logger;
  readonly #metrics: PipelineMetrics | undefined;
  readonly #clock: Clock;
  readonly #opts: BrokerOptions;

  #state: 'new' | 'starting' | 'up' | 'stopping' | 'stopped' = 'new';
  #stopped: Promise<void> | undefined;
  #aedes: Aedes | undefined;
  #ports: BrokerPorts | undefined;
  readonly #servers: Array<NetServer | TlsServer | HttpServer> = [];
  #wss: WebSocketServer | undefined;

  /** Every accepted raw socket (the maxConnections count, destroyed on stop). */
  readonly #sockets = new Set<Socket>();
  /** Open sockets per source address (the maxConnectionsPerAddress count). */
  readonly #perAddress = new Map<string, number>();
  readonly #logins: LoginGuard;
  /** Every Aedes client object, connected or not yet. */
  readonly #clients = new Set<Client>();
  readonly #sessions = new WeakMap<Client, Session>();
  /** Client id exactly as sent in CONNECT (Aedes replaces an empty one by a generated id). */
  readonly #rawIds = new WeakMap<Client, string>();
  readonly #remotes = new WeakMap<Client, string>();
  readonly #bindings = new Map<string, IdBinding>();
  /** Status publishes in flight per topic, chained so online/offline keep their order. */
  readonly #statusChains = new Map<string, Promise<void>>();

  constructor(opts: BrokerOptions) {
    if (!opts || typeof opts !== 'object' || !opts.config || !opts.registry || !opts.logger) {
      throw new BrokerError('BROKER_ERR_OPTIONS', 'createBroker needs { config, registry, logger }');
    }
    const c = opts.config;
    if (Boolean(c.tlsCert) !== Boolean(c.tlsKey)) {
      throw new BrokerError('BROKER_ERR_OPTIONS', 'mqtt.tlsCert and mqtt.tlsKey must be set together');
    }
    if (!Number.isInteger(c.maxPacketSize) || c.maxPacketSize < 256) throw new BrokerError('BROKER_ERR_OPTIONS', `mqtt.maxPacketSize must be an integer >= 256, got ${c.maxPacketSize}`);
    if (!Number.isInteger(c.maxConnections) || c.maxConnections < 1) throw new BrokerError('BROKER_ERR_OPTIONS', `mqtt.maxConnections must be a positive integer, got ${c.maxConnections}`);
    if (!Number.isInteger(c.maxConnectionsPerAddress) || c.maxConnectionsPerAddress < 1) throw new BrokerError('BROKER_ERR_OPTIONS', `mqtt.maxConnectionsPerAddress must be a positive integer, got ${c.maxConnectionsPerAddress}`);
    this.#opts = opts;
    this.#config = c;
    this.#registry = opts.registry;
    this.#log = opts.logger.child({ component: 'broker' });
    this.#metrics = opts.metrics;
    this.#clock = opts.clock ?? systemClock;
    this.#logins = new LoginGuard(c.loginBackoff, this.#clock);
  }

  get aedes(): Aedes {
    if (!this.#aedes) throw new BrokerError('BROKER_ERR_STATE', 'the broker is not started');
    return this.#aedes;
  }

  connectedClients(): number {
    return this.#aedes?.connectedClients ?? 0;
  }

  isUp(): boolean {
    return this.#state === 'up' && this.#aedes !== undefined && !this.#aedes.closed;
  }

  ports(): BrokerPorts | undefined {
    return this.#ports ? { ...this.#ports } : undefined;
  }

  async start(): Promise<BrokerPorts> {
    if (this.#state !== 'new') throw new BrokerError('BROKER_ERR_STATE', `start() in state ${this.#state}`);
    this.#state = 'starting';
    const cfg = this.#config;
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (cfg.tlsCert && cfg.tlsKey) {
      try {
        tls = { cert: await readFile(cfg.tlsCert), key: await readFile(cfg.tlsKey) };
      } catch (e) {
        this.#state = 'stopped';
        throw new BrokerError('BROKER_ERR_TLS', `cannot read mqtt.tlsCert/mqtt.tlsKey: ${(e as Error).message}`, { cause: e });
      }
    }

    const aedes = await Aedes.createBroker(this.#aedesOptions());
    this.#aedes = aedes;
    this.#wire(aedes);

    try {
      const tcp = createNetServer({ noDelay: true }, (socket) => {
        if (this.#admit(socket, 'mqtt')) this.#handle(socket, 'mqtt', socket.remoteAddress);
      });
      const mqttPort = await this.#listen(tcp, cfg.port, 'mqtt');

      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('MQTT over WebSocket: send an Upgrade request\n');
      });
      http.on('connection', (socket: Socket) => this.#admit(socket, 'ws'));
      // ws buffers a whole frame before we see it: cap frames at one maximal MQTT packet.
      const wss = new WebSocketServer({ server: http, maxPayload: cfg.maxPacketSize + 16, perMessageDeflate: false });
      this.#wss = wss;
      wss.on('error', (err) => this.#log.error({ err }, 'WebSocket server error'));
      wss.on('connection', (ws, req: IncomingMessage) => {
        ws.on('error', (err) => this.#log.debug({ err: err.message, remote: req.socket.remoteAddress }, 'WebSocket error'));
        this.#handle(createWebSocketStream(ws), 'ws', req.socket.remoteAddress, req);
      });
      const wsPort = await this.#listen(http, cfg.wsPort, 'ws');

      let tlsPort: number | undefined;
      if (tls) {
        const server = createTlsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (socket) => this.#handle(socket, 'tls', socket.remoteAddress));
        server.on('connection', (socket: Socket) => this.#admit(socket, 'tls'));
        server.on('tlsClientError', (err, socket) => this.#log.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed'));
        tlsPort = await this.#listen(server, cfg.tlsPort, 'tls');
      }

      this.#ports = tlsPort === undefined ? { mqtt: mqttPort, ws: wsPort } : { mqtt: mqttPort, ws: wsPort, tls: tlsPort };
    } catch (e) {
      this.#state = 'stopping';
      await this.#shutdown();
      this.#state = 'stopped';
      throw e;
    }
    this.#state = 'up';
    this.#log.info({ host: cfg.host, ...this.#ports, maxPacketSize: cfg.maxPacketSize, maxConnections: cfg.maxConnections, maxConnectionsPerAddress: cfg.maxConnectionsPerAddress, anonymous: cfg.allowAnonymousPublic }, 'MQTT broker listening');
    return { ...this.#ports };
  }

  async stop(): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    if (this.#stopped) return this.#stopped;
    this.#state = 'stopping';
    this.#stopped = this.#shutdown().then(() => {
      this.#state = 'stopped';
      this.#log.info('MQTT broker stopped');
    });
    return this.#stopped;
  }

  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    if (typeof topic !== 'string' || !isValidTopicName(topic)) throw new BrokerError('BROKER_ERR_TOPIC', `cannot publish to ${JSON.stringify(topic)}: empty, wildcard or U+0000`);
    const aedes = this.aedes;
    if (aedes.closed) throw new BrokerError('BROKER_ERR_STATE', 'the broker is stopped');
    const qos = opts.qos ?? 0;
    await new Promise<void>((resolve, reject) => {
      aedes.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, qos, retain: opts.retain ?? false, dup: false },
        (err) => (err ? reject(new BrokerError('BROKER_ERR_PUBLISH', `publish to ${topic} failed: ${err.message}`, { cause: err })) : resolve()),
      );
    });
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<() => Promise<void>> {
    if (typeof filter !== 'string' || !isValidFilter(filter)) throw new BrokerError('BROKER_ERR_TOPIC', `invalid subscription filter ${JSON.stringify(filter)}`);
    const aedes = this.aedes;
    const wildcardFirst = filter.startsWith('+') || filter.startsWith('#');
    const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
      // [MQTT-4.7.2-1]: as for network clients, a leading wildcard does not match $-topics.
      if (!(wildcardFirst && packet.topic.startsWith('$'))) {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        try {
          Promise.resolve(handler(packet.topic, payload, packet)).catch((err: unknown) => this.#log.error({ err, topic: packet.topic }, 'in-process subscriber failed'));
        } catch (err) {
          this.#log.error({ err, topic: packet.topic }, 'in-process subscriber failed');
        }
      }
      cb();
    };
    await new Promise<void>((resolve) => aedes.subscribe(filter, deliver, resolve));
    this.#localFilters.set(filter, (this.#localFilters.get(filter) ?? 0) + 1);
    this.#subscriberMemo.clear();
    return () =>
      new Promise<void>((resolve) =>
        aedes.unsubscribe(filter, deliver, () => {
          const n = (this.#localFilters.get(filter) ?? 1) - 1;
          if (n > 0) this.#localFilters.set(filter, n);
          else this.#localFilters.delete(filter);
          this.#subscriberMemo.clear();
          resolve();
        }),
      );
  }

  // ---------------------------------------------------------------------------------------------

  /** Subscription filters of each connected client (for hasSubscribers). */
  readonly #filters = new Map<Client, Set<string>>();

  /** In-process subscriptions (broker.subscribe), counted per filter. */
  readonly #localFilters = new Map<string, number>();
  /** hasSubscribers answers per topic, until a subscription changes. */
  readonly #subscriberMemo = new Map<string, boolean>();

  hasSubscribers(topic: string): boolean {
    const memo = this.#subscriberMemo.get(topic);
    if (memo !== undefined) return memo;
    const matches = (filters: Iterable<string>): boolean => {
      for (const f of filters) if (filterWithin(topic, f)) return true;
      return false;
    };
    const found = matches(this.#localFilters.keys()) || [...this.#filters.values()].some(matches);
    if (this.#subscriberMemo.size > 100_000) this.#subscriberMemo.clear();
    this.#subscriberMemo.set(topic, found);
    return found;
  }

  hasSubscribersWithin(root: string): boolean {
    const within = (filters: Iterable<string>): boolean => {
      for (const f of filters) if (filterReachesUnder(f, root)) return true;
      return false;
    };
    return within(this.#localFilters.keys()) || [...this.#filters.values()].some(within);
  }

  /** Raw-tier copies of committed readings still being delivered. */
  #rawInFlight = 0;
  /** Refused publishes per connection (past `maxRefusedPublishes` the connection is closed). */
  readonly #refusals = new WeakMap<Client, number>();

  /**
   * Sends the raw-tier copy of a committed reading to whoever reads `csm/v1/.../data` (a `steward
   * rules` process, other cluster nodes, a technician), at QoS 0: the reading itself is in the
   * spool; this feed is best effort, bounded, and never holds a device.
   */
  #feedRaw(topic: string, payload: Buffer): void {
    const aedes = this.#aedes;
    if (!aedes || aedes.closed) return;
    // Nobody reads raw readings here, and no other node could (no shared emitter): skip the copy.
    if (!this.#opts.mq && !this.hasSubscribers(topic)) return;
    if (this.#rawInFlight >= RAW_FEED_MAX_IN_FLIGHT) {
      this.#metrics?.rawFeedDropped.inc();
      return;
    }
    this.#rawInFlight++;
    aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }, () => {
      this.#rawInFlight--;
    });
  }

  #aedesOptions(): AedesOptions {
    const o = this.#opts;
    const options: AedesOptions = {
      heartbeatInterval: o.heartbeatIntervalMs ?? 60_000,
      // No queue in the emitter (mqemitter's default of 100 queues messages past it and releases
      // the queue by recursion, which overflowed the stack after a long stall). Flow control is
      // per publisher instead: Aedes reads a client's next packets only after its current ones
      // are done, and a subscriber that will not drain is cut after drainTimeout.
      concurrency: 0,
      drainTimeout: this.#config.drainTimeoutMs,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
      maxTopicLevels: MAX_TOPIC_LEVELS,
      preConnect: (client, packet, done) => {
        this.#rawIds.set(client, packet.clientId ?? '');
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        this.#authenticate(client, username, password).then(
          () => done(null, true),
          (err: AuthError & { reason?: RefusalReason | 'registry' }) => {
            if (err.reason === 'registry' || typeof err.returnCode !== 'number') {
              this.#log.error({ err, clientId: client.id }, 'authentication failed on an internal error');
              done(authError(3, 'registry', 'server unavailable'), false);
              return;
            }
            this.#refused(err.reason as RefusalReason);
            this.#log.info({ clientId: client.id, username, remote: this.#remotes.get(client), reason: err.reason }, `connection refused: ${err.message}`);
            done(err, false);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        const s = client ? this.#sessions.get(client) : undefined;
        if (s && mayPublish(s, packet.topic) && this.#stillRegistered(s.principal)) {
          const intake = o.intake;
          if (intake && s.principal.type === 'device' && packet.topic.endsWith('/data')) {
            // Durable before acknowledged: Aedes writes the PUBACK only after this callback, and
            // reads this client's next packets only after that.
            const topic = packet.topic;
            const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
            intake.submit(topic, payload, (verdict) => {
              sink(packet);
              if (verdict.accepted) this.#feedRaw(topic, payload);
              done(null);
            });
            return;
          }
          done(null);
          return;
        }
        this.#refused('publish_denied');
        const who = describePrincipal(s?.principal);
        try {
          o.onRefusedPublish?.({
            clientId: client?.id,
            username: s?.principal.type === 'device' ? s.principal.username : s?.principal.type === 'account' ? s.principal.name : undefined,
            topic: packet.topic,
            payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
            reason: `${who} may not publish to "${packet.topic.slice(0, 200)}"`,
          });
        } catch (err) {
          this.#log.error({ err }, 'onRefusedPublish failed');
        }
        // A will (no client) of a dead cluster peer or a refused will: nothing to acknowledge.
        if (!client) {
          done(new Error(`not authorized to publish to ${packet.topic}`));
          return;
        }
        // MQTT 3.1.1 has no negative PUBACK: acknowledge and drop, as Mosquitto does, so a client
        // does not reconnect and resend in a loop; close only a client that keeps at it.
        const n = (this.#refusals.get(client) ?? 0) + 1;
        this.#refusals.set(client, n);
        if (n > this.#config.maxRefusedPublishes) {
          this.#log.warn({ clientId: client.id, topic: packet.topic, principal: who, refused: n }, 'too many refused publishes; closing the connection');
          done(new Error(`not authorized to publish to ${packet.topic}`));
          return;
        }
        this.#log.info({ clientId: client.id, topic: packet.topic, principal: who }, 'publish refused: acknowledged and dropped');
        sink(packet);
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const s = this.#sessions.get(client);
        if (s && canSubscribe(s.acl, sub.topic)) {
          done(null, sub);
          return;
        }
        this.#refused('subscribe_denied');
        this.#log.info({ clientId: client.id, filter: sub.topic, principal: describePrincipal(s?.principal) }, 'subscription refused (SUBACK 0x80)');
        done(null, null); // [MQTT-3.9.3] return code 0x80 for this filter, the connection stays
      },
      authorizeForward: (client, packet) => {
        const s = this.#sessions.get(client);
        if (!s || packet.topic === SINK_TOPIC) return null;
        return s.acl.subscribeAll || canReceive(s.acl, packet.topic) ? packet : null;
      },
    };
    if (o.persistence !== undefined) options.persistence = o.persistence;
    if (o.mq !== undefined) options.mq = o.mq;
    if (o.id !== undefined) options.id = o.id;
    return options;
  }

  async #authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const rawId = this.#rawIds.get(client) ?? client.id;
    // [MQTT-3.1.3-8]: a zero-byte client id needs clean session (Aedes accepts it otherwise).
    if (rawId === '' && !client.clean) throw authError(2, 'client_id', 'a zero-length client id requires clean session');
    const idProblem = identifierProblem(client.id);
    if (idProblem) throw authError(2, 'client_id', `client id ${JSON.stringify(client.id)} ${idProblem}`);

    let principal: BrokerPrincipal;
    if (username === undefined) {
      if (!this.#config.allowAnonymousPublic) throw authError(5, 'anonymous', 'a username is required');
      // Persistent sessions keep unbounded offline queues: not for whoever happens to connect.
      if (!client.clean) throw authError(5, 'anonymous', 'anonymous readers must use clean session');
      principal = { type: 'anonymous' };
    } else {
      const userProblem = identifierProblem(username);
      if (userProblem) throw authError(4, 'bad_credentials', `username ${userProblem}`);
      // Backoff first: while a username or address is closed, no password is checked at all.
      const remote = this.#remotes.get(client);
      const block = this.#logins.check(username, remote);
      if (block) throw authError(5, block.reason, `${block.reason === 'login_lockout' ? 'locked out' : 'backing off'} after failed logins of this ${block.key}; retry in ${Math.ceil(block.retryInMs / 1000)} s`);
      let p: BrokerPrincipal | undefined;
      try {
        p = await this.#registry.authenticate(username, password ? password.toString('utf8') : '');
      } catch (e) {
        throw Object.assign(authError(3, 'registry', `registry lookup failed: ${(e as Error).message}`), { cause: e });
      }
      if (!p) {
        this.#logins.failed(username, remote);
        throw authError(5, 'bad_credentials', 'unknown username or wrong password');
      }
      this.#logins.succeeded(username);
      principal = p;
    }

    const cidProblem = clientIdProblem(principal, client.id);
    if (cidProblem) throw authError(2, 'client_id', cidProblem);
    const owner = sessionOwner(principal);
    const bound = this.#bindings.get(client.id);
    if (bound && bound.owner !== owner) throw authError(2, 'client_id', `client id ${client.id} belongs to another user`);
    this.#bindings.set(client.id, { owner, holder: client, persistent: !client.clean });
    this.#sessions.set(client, { principal, acl: (this.#opts.aclFor ?? aclFor)(principal), mayPublish: new Map() });
  }

  /** A device removed from (or moved to another domain in) the registry may no longer publish. */
  #stillRegistered(p: BrokerPrincipal): boolean {
    if (p.type !== 'device') return true;
    const current = this.#registry.getSensor(p.hub, p.sensor);
    return current !== undefined && current.domain === p.domain;
  }

  #wire(aedes: Aedes): void {
    aedes.on('client', (client) => {
      this.#metrics?.connectedClients.set(aedes.connectedClients);
      const s = this.#sessions.get(client);
      this.#log.debug({ clientId: client.id, principal: describePrincipal(s?.principal), remote: this.#remotes.get(client) }, 'client connected');
      if (s?.principal.type === 'device') this.#publishStatus(s.principal, 'online');
    });
    aedes.on('subscribe', (subs, client) => {
      if (!client) return;
      let set = this.#filters.get(client);
      if (!set) this.#filters.set(client, (set = new Set()));
      for (const sub of subs) set.add(sub.topic);
      this.#subscriberMemo.clear();
    });
    aedes.on('unsubscribe', (topics, client) => {
      const set = client ? this.#filters.get(client) : undefined;
      for (const t of topics) set?.delete(t);
      this.#subscriberMemo.clear();
    });
    aedes.on('clientDisconnect', (client) => {
      if (this.#filters.delete(client)) this.#subscriberMemo.clear();
      this.#metrics?.connectedClients.set(aedes.connectedClients);
      const s = this.#sessions.get(client);
      this.#log.debug({ clientId: client.id, principal: describePrincipal(s?.principal) }, 'client disconnected');
      if (s?.principal.type === 'device') this.#publishStatus(s.principal, 'offline');
      const b = this.#bindings.get(client.id);
      if (b && b.holder === client && !b.persistent) this.#bindings.delete(client.id);
    });
    aedes.on('keepaliveTimeout', (client) => this.#log.info({ clientId: client.id }, 'client keepalive expired'));
    aedes.on('clientError', (client, err) => this.#log.info({ clientId: client.id, err: err.message, remote: this.#remotes.get(client) }, 'client error; connection closed'));
    aedes.on('connectionError', (client, err) => this.#log.info({ err: err.message, remote: this.#remotes.get(client) }, 'connection error before CONNECT; connection closed'));
    // Persistence errors arrive here; without a listener Node would throw and end the process.
    const emitter: EventEmitter = aedes; // Aedes's typings omit the 'error' event
    emitter.on('error', (err: Error) => this.#log.error({ err }, 'broker error'));
  }

  /** Counts and admits a raw socket, or refuses it when maxConnections are open. */
  #admit(socket: Socket, listener: Listener): boolean {
    socket.on('error', noop); // the layers above report errors; never let one crash the process
    if (this.#state !== 'up' && this.#state !== 'starting') {
      socket.destroy();
      return false;
    }
    if (this.#sockets.size >= this.#config.maxConnections) {
      this.#refused('max_connections');
      this.#log.warn({ remote: socket.remoteAddress, listener, maxConnections: this.#config.maxConnections }, 'connection refused: too many connections');
      socket.destroy();
      return false;
    }
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (fromAddress >= this.#config.maxConnectionsPerAddress) {
      this.#refused('address_connections');
      this.#log.warn({ remote: address, listener, maxConnectionsPerAddress: this.#config.maxConnectionsPerAddress }, 'connection refused: too many connections from this address');
      socket.destroy();
      return false;
    }
    this.#perAddress.set(address, fromAddress + 1);
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      const n = (this.#perAddress.get(address) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(address, n);
      else this.#perAddress.delete(address);
    });
    socket.setNoDelay(true);
    return true;
  }

  /** Puts the byte guard in front of a connection and hands it to Aedes. */
  #handle(stream: Duplex, listener: Listener, remote: string | undefined, req?: IncomingMessage): void {
    const aedes = this.#aedes;
    if (!aedes || stream.destroyed) {
      stream.destroy();
      return;
    }
    const guarded = guardConnection(stream, {
      maxPacketSize: this.#config.maxPacketSize,
      onReject: (reason) => {
        this.#refused(reason);
        this.#log.warn({ remote, listener, reason, maxPacketSize: this.#config.maxPacketSize }, 'connection dropped by the packet guard');
      },
    });
    const client = aedes.handle(guarded, req);
    this.#clients.add(client);
    if (remote) this.#remotes.set(client, remote);
    guarded.once('close', () => this.#clients.delete(client));
  }

  #publishStatus(device: BrokerPrincipal & { type: 'device' }, state: 'online' | 'offline'): void {
    const topic = statusTopic(device);
    const payload = JSON.stringify({ state, ts: this.#clock.now() });
    const prev = this.#statusChains.get(topic) ?? Promise.resolve();
    const next = prev
      .then(() => this.publish(topic, payload, { qos: 1, retain: true }))
      .catch((err: unknown) => this.#log.warn({ err, topic, state }, 'could not publish device status'));
    this.#statusChains.set(topic, next);
    void next.then(() => {
      if (this.#statusChains.get(topic) === next) this.#statusChains.delete(topic);
    });
  }

  #refused(reason: RefusalReason): void {
    this.#metrics?.brokerRefused.inc({ reason });
  }

  #listen(server: NetServer | TlsServer | HttpServer, port: number, name: Listener): Promise<number> {
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new BrokerError('BROKER_ERR_LISTEN', `cannot listen for ${name} on ${this.#config.host}:${port}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(port, this.#config.host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.#log.error({ err, listener: name }, 'listener error'));
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  async #shutdown(): Promise<void> {
    const serversClosed = this.#servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())));
    this.#wss?.close();
    // Finish what is in flight: commit what the intake holds, so its PUBACKs go out before the
    // clients are closed (a PUBACK lost here only makes the device resend; storage is idempotent).
    if (this.#opts.intake && !this.#opts.intake.flush()) this.#log.warn('stopping while the spool refuses readings; devices will resend them');
    await new Promise((resolve) => setImmediate(resolve));
    // Disconnect clients first, while Aedes still runs, so devices' offline status goes out.
    await Promise.all([...this.#clients].map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
    await withTimeout(Promise.all([...this.#statusChains.values()]), 2000);
    const aedes = this.#aedes;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await withTimeout(Promise.all(serversClosed), 5000);
    this.#metrics?.connectedClients.set(0);
  }
}

/** The session's ACL answer for `topic`, remembered for the few topics a client publishes to. */
function mayPublish(s: Session, topic: string): boolean {
  let ok = s.mayPublish.get(topic);
  if (ok === undefined) {
    ok = canPublish(s.acl, topic);
    if (s.mayPublish.size < 32) s.mayPublish.set(topic, ok);
  }
  return ok;
}

/** Sends a publish the broker has taken care of nowhere (see SINK_TOPIC): not routed, not retained. */
function sink(packet: { topic: string; retain: boolean }): void {
  packet.topic = SINK_TOPIC;
  packet.retain = false;
}

function describePrincipal(p: BrokerPrincipal | undefined): string {
  if (!p) return 'unauthenticated';
  if (p.type === 'anonymous') return 'anonymous';
  return p.type === 'device' ? `device ${p.username}` : `${p.role} ${p.name}`;
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function noop(): void {}

/** Could `filter` (a subscription, possibly `$share/{group}/...`) match a topic below `root`? */
export function filterReachesUnder(filter: string, root: string): boolean {
  let fl = filter.split('/');
  if (fl[0] === '$share') fl = fl.slice(2);
  const rl = root.split('/');
  for (let i = 0; i < rl.length; i++) {
    const f = fl[i];
    if (f === undefined) return false;
    if (f === '#') return true;
    if (f !== '+' && f !== rl[i]) return false;
  }
  return fl.length > rl.length;
}
