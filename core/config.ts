/**
 * The one configuration file (YAML), validated with zod at start-up. Unknown keys are rejected,
 * defaults live in the schema, errors name the key. Environment variables override the common
 * keys (docs/contract.md "Ports and configuration").
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';
import { idSchema } from './ids.ts';

const port = z.number().int().min(0).max(65535);

export const influxSchema = z
  .strictObject({
    url: z.url(),
    /** v2: /api/v2/write with token, org, bucket (InfluxDB 2.x, 3.x, Cloud). v1: /write with db, rp. */
    api: z.enum(['v1', 'v2']).optional(),
    token: z.string().optional(),
    org: z.string().optional(),
    bucket: z.string().optional(),
    database: z.string().optional(),
    retentionPolicy: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Request timeout, ms. */
    timeoutMs: z.number().int().positive().default(10_000),
    /**
     * Where the hourly and daily aggregates go (docs/storage.md "Years"). v1: retention policies
     * Steward creates on the database with the durations of `storage.aggregates`. v2: buckets
     * (default the readings' bucket); name them `<db>/<rp>` with the database of the readings'
     * bucket so InfluxQL reads find them, and give them the retention you want.
     */
    aggregates: z
      .strictObject({
        hourlyRetentionPolicy: z.string().min(1).default('steward_1h'),
        dailyRetentionPolicy: z.string().min(1).default('steward_1d'),
        hourlyBucket: z.string().min(1).optional(),
        dailyBucket: z.string().min(1).optional(),
      })
      .prefault({}),
    /** `latest` reads the last this-many ms of raw readings first (older series are looked up by sensor). */
    latestWindowMs: z.number().int().positive().default(86_400_000),
  })
  .transform((c) => ({ ...c, api: c.api ?? (c.bucket || c.token ? 'v2' : 'v1') }) as typeof c & { api: 'v1' | 'v2' })
  .superRefine((c, ctx) => {
    if (c.api === 'v2' && !c.bucket) ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'the v2 API needs a bucket' });
    if (c.api === 'v2' && !c.org) ctx.addIssue({ code: 'custom', path: ['org'], message: 'the v2 API needs an org' });
    if (c.api === 'v1' && !c.database) ctx.addIssue({ code: 'custom', path: ['database'], message: 'the v1 API needs a database' });
  });
export type InfluxConfig = z.output<typeof influxSchema>;

/** Pseudonymisation key ids (privacy/keys.ts uses the same pattern). */
export const PRIVACY_KEY_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Shortest accepted pseudonymisation secret. */
export const PRIVACY_MIN_SECRET_LENGTH = 32;

/** The privacy boundary: policy file, keys, public MQTT and the regional upstream (privacy/README.md). */
export const privacyConfigSchema = z
  .strictObject({
    /** Policy file (YAML). Default: privacy/policies/default.yaml as shipped. */
    policyFile: z.string().min(1).optional(),
    /** How often the policy file is checked for changes, ms; 0 = never reload. */
    reloadIntervalMs: z.number().int().nonnegative().default(2000),
    /** Pseudonymisation keys: id -> secret. `STEWARD_PRIVACY_KEY_<ID>` adds or overrides one. */
    keys: z.record(z.string().regex(PRIVACY_KEY_ID_PATTERN, `key ids must match ${PRIVACY_KEY_ID_PATTERN.source}`), z.string().min(PRIVACY_MIN_SECRET_LENGTH, `secrets need at least ${PRIVACY_MIN_SECRET_LENGTH} characters`)).default({}),
    /** Create a key the policy names but no one configured, once, under `<dataDir>/privacy-keys/` (mode 0600). */
    generateKeys: z.boolean().default(true),
    /** Open data on MQTT: `public/v1/{hub}/{domain}/{sensor}`. */
    public: z.strictObject({ mqtt: z.boolean().default(true), retain: z.boolean().default(true) }).prefault({}),
    /** The regional network; off when absent. */
    upstream: z
      .strictObject({
        url: z.string().regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
        username: z.string().optional(),
        password: z.string().optional(),
        clientId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
        topicPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/).default('public/v1'),
        maxBuffered: z.number().int().positive().default(1_000_000),
        maxInflight: z.number().int().positive().max(65_535).default(20),
        alertSeverities: z.array(z.string().min(1)).default(['critical']),
      })
      .optional(),
  })
  .prefault({});

export type PrivacyConfig = z.output<typeof privacyConfigSchema>;

/**
 * Environment overrides of the privacy section (to call from core/config.ts `applyEnv`):
 * `STEWARD_PRIVACY_POLICY` (policyFile), `STEWARD_UPSTREAM_URL`, `STEWARD_UPSTREAM_USERNAME`,
 * `STEWARD_UPSTREAM_PASSWORD`. Keys come from `STEWARD_PRIVACY_KEY_<ID>` at keyring creation.
 */
export function applyPrivacyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  const privacy = ((out.privacy as Record<string, unknown> | undefined) ??= {});
  if (env.STEWARD_PRIVACY_POLICY) privacy.policyFile = env.STEWARD_PRIVACY_POLICY;
  if (env.STEWARD_UPSTREAM_URL) {
    const up = ((privacy.upstream as Record<string, unknown> | undefined) ??= {});
    up.url = env.STEWARD_UPSTREAM_URL;
  }
  for (const [e, k] of [
    ['STEWARD_UPSTREAM_USERNAME', 'username'],
    ['STEWARD_UPSTREAM_PASSWORD', 'password'],
  ] as const) {
    if (env[e] && privacy.upstream) (privacy.upstream as Record<string, unknown>)[k] = env[e];
  }
  return out;
}

/**
 * Connectors (connectors/README.md): network servers and foreign MQTT fleets whose uplinks become
 * readings without new firmware. Each source names a format registered in connectors/all.ts; its
 * format-specific `options` are validated by that format when the connectors start and by
 * `steward connect check`.
 */
export const connectorsConfigSchema = z
  .strictObject({
    /** Mapping profiles: YAML files, or directories of them. */
    profiles: z.array(z.string().min(1)).default([]),
    /** Where webhooks are received (`POST /api/v1/connect/{source}`) next to /health, /ready, /metrics. */
    http: z.strictObject({ host: z.string().default('0.0.0.0'), port: port.default(8084) }).prefault({}),
    /** Two uplinks of one device with the same frame counter within this window are one reading. */
    dedupWindowMs: z.number().int().positive().default(300_000),
    /** A webhook request waits this long for the spool, then gets 503 (The Things Stack gives up after 10 s). */
    webhookTimeoutMs: z.number().int().positive().default(8_000),
    sources: z
      .array(
        z.strictObject({
          name: idSchema,
          /** A format of connectors/all.ts: chirpstack-v4, the-things-stack-v3, mqtt-json. */
          format: z.string().min(1),
          /** Hub of the sensors found by device name (a device found by DevEUI carries its own). */
          hub: idSchema.optional(),
          /** Subscribe to the network server's (or fleet's) broker. */
          mqtt: z
            .strictObject({
              url: z.string().regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
              username: z.string().optional(),
              /** Else $STEWARD_CONNECTOR_<NAME>_PASSWORD. */
              password: z.string().optional(),
              clientId: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/).optional(),
              /** Default: the format's topics. */
              topics: z.array(z.string().min(1)).optional(),
              /** Default: the format's (0 where the server offers nothing else). */
              qos: z.union([z.literal(0), z.literal(1)]).optional(),
            })
            .optional(),
          /** Receive the network server's HTTP POSTs; the secret (else $STEWARD_CONNECTOR_<NAME>_SECRET) must come in the X-Steward-Secret header. */
          webhook: z.strictObject({ secret: z.string().min(16, 'webhook secrets need at least 16 characters').optional() }).optional(),
          options: z.record(z.string(), z.unknown()).default({}),
        }),
      )
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((s, i) => {
          if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `source name "${s.name}" is used twice` });
          seen.add(s.name);
          if (!s.mqtt && !s.webhook) ctx.addIssue({ code: 'custom', path: [i], message: 'a source needs mqtt, webhook or both' });
        });
      }),
  })
  .prefault({});
export type ConnectorsConfig = z.output<typeof connectorsConfigSchema>;

export const configSchema = z.strictObject({
  /** Where registry, spool, dead letters and the embedded store live. */
  dataDir: z.string().default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  mqtt: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: port.default(1883),
      wsPort: port.default(9001),
      tlsPort: port.default(8883),
      /** PEM files; TLS listens only when both are set. */
      tlsCert: z.string().optional(),
      tlsKey: z.string().optional(),
      /** Largest MQTT packet accepted, bytes; a socket announcing more is closed before it is buffered. */
      maxPacketSize: z.number().int().min(256).max(268435455).default(262_144),
      maxConnections: z.number().int().positive().default(10_000),
      /** A subscriber whose socket will not drain for this long is disconnected (frozen clients cannot stall others). */
      drainTimeoutMs: z.number().int().positive().default(10_000),
      /** Refused publishes are acknowledged and dropped; a connection that sends more than this many is closed. */
      maxRefusedPublishes: z.number().int().positive().default(100),
      /**
       * Open connections from one source address (loopback included: a benchmark or gateway with
       * more devices on one address raises it).
       */
      maxConnectionsPerAddress: z.number().int().positive().default(1_000),
      /** Failed-login backoff per username and per source address (broker/login-guard.ts). */
      loginBackoff: z
        .strictObject({
          /** Per username: failures before any delay, and before a lockout. */
          username: z.strictObject({ freeFailures: z.number().int().nonnegative().default(3), lockoutAfter: z.number().int().positive().default(10) }).prefault({}),
          /** Per source address (many devices may share one behind NAT): more room. */
          address: z.strictObject({ freeFailures: z.number().int().nonnegative().default(20), lockoutAfter: z.number().int().positive().default(100) }).prefault({}),
          /** First delay, doubled at each further failure up to maxDelayMs. */
          baseDelayMs: z.number().int().nonnegative().default(1_000),
          maxDelayMs: z.number().int().nonnegative().default(60_000),
          lockoutMs: z.number().int().nonnegative().default(300_000),
          /** A key without failures for this long starts afresh. */
          forgetAfterMs: z.number().int().positive().default(900_000),
        })
        .prefault({}),
      /** Anonymous clients may subscribe under public/ (never publish, never read raw). */
      allowAnonymousPublic: z.boolean().default(false),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: port.default(8080),
      /** `/health`, `/ready` and `/metrics` of a role run alone (`steward broker`, `ingest`, `rules`); 0 = any free port. */
      rolePorts: z
        .strictObject({ broker: port.default(8081), ingest: port.default(8082), rules: port.default(8083) })
        .prefault({}),
      /** Bearer tokens with their role, optionally limited to hubs (also: `steward tokens add`, kept in the registry). */
      tokens: z
        .array(z.strictObject({ name: z.string().min(1), token: z.string().min(16, 'tokens need at least 16 characters'), role: z.enum(['steward', 'technician']), hubs: z.array(idSchema).min(1).optional() }))
        .default([]),
      rateLimit: z.strictObject({ max: z.number().int().positive().default(600), timeWindowMs: z.number().int().positive().default(60_000) }).prefault({}),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** Broker the ingest worker subscribes to (Aedes of `steward broker`, or any MQTT 3.1.1 broker); default mqtt://127.0.0.1:{mqtt.port}. */
      brokerUrl: z.string().default('mqtt://127.0.0.1:1883'),
      username: z.string().default('ingest'),
      password: z.string().optional(),
      clientId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('steward-ingest'),
      /** Subscription filters; split them across workers to scale out on brokers without $share. */
      topics: z.array(z.string().min(1)).default(['csm/v1/+/+/+/data']),
      maxSkewMs: z.number().int().nonnegative().default(300_000),
      maxPayloadBytes: z.number().int().positive().default(65_536),
      /** Largest batch the spool forwards to storage at once. */
      batchSize: z.number().int().positive().default(5_000),
      /** How often the spool forwards, ms. */
      flushIntervalMs: z.number().int().positive().default(250),
      /** `full` fsyncs every spool commit (survives power loss); `normal` survives a process crash. */
      spoolSync: z.enum(['normal', 'full']).default('normal'),
      /**
       * Cap on the spool file, bytes. When it is reached (storage down too long) or the disk is
       * full, the node stops acknowledging readings until space returns; devices hold and resend.
       */
      spoolMaxBytes: z.number().int().min(65_536).default(1_073_741_824),
      /**
       * Overload: while storage takes readings but more than this many wait in the spool, devices
       * are acknowledged only as storage catches up (the excess waits at the devices). While
       * storage is down the spool absorbs readings up to spoolMaxBytes instead.
       */
      backlogHighWater: z.number().int().positive().default(20_000),
      /**
       * Run the forwarder (spool -> privacy boundary -> storage) in a worker thread, off the event
       * loop that runs the broker, the acknowledgements and the rules. It opens its own store,
       * dead-letter and spool connections and privacy boundary from this config. False: on the
       * main thread.
       */
      forwarderThread: z.boolean().default(true),
      /**
       * Lowers the forwarder thread's scheduling priority by this much (Linux nice, 0–19), so that
       * on a busy machine acknowledgements and alerts get the CPU first. It costs throughput at
       * capacity: the forwarder then falls behind and the backlog bound slows acknowledgements
       * (docs/benchmarks.md). 0: same priority.
       */
      forwarderNice: z.number().int().min(0).max(19).default(0),
      /**
       * `steward ingest` on a broker Steward does not run: subscribe as `$share/{shareGroup}/...`
       * (MQTT shared subscriptions, Mosquitto 2 and EMQX) so several workers split the load.
       */
      shareGroup: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
    })
    .prefault({}),
  storage: z
    .strictObject({
      influx: influxSchema.optional(),
      /** Embedded store: raw readings are kept this many days (0: for ever). */
      retentionDays: z.number().int().nonnegative().default(30),
      /** Hourly and daily aggregates of every series, and daily species counts, kept for years (both stores). */
      aggregates: z
        .strictObject({
          /** Hourly min/mean/max/count/last, days. */
          hourlyDays: z.number().int().positive().default(730),
          /** Daily aggregates and species counts, days. */
          dailyDays: z.number().int().positive().default(1825),
          /** How often written hours are summarised, ms. */
          intervalMs: z.number().int().positive().default(60_000),
        })
        .prefault({}),
    })
    .prefault({}),
  privacy: privacyConfigSchema,
  rules: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Rule files or directories (YAML). Default: the shipped rules/defaults/. */
      paths: z.array(z.string().min(1)).optional(),
      /** `steward rules` alone: broker, service account and client id it reads readings with. */
      brokerUrl: z.string().default('mqtt://127.0.0.1:1883'),
      username: z.string().default('rules'),
      password: z.string().optional(),
      clientId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('steward-rules'),
    })
    .prefault({}),
  simulators: z
    .strictObject({
      hub: idSchema.default('demo'),
      seed: z.number().int().default(42),
      /** Simulated seconds per real second. */
      speed: z.number().positive().max(100_000).default(1),
      /**
       * Real seconds between two readings of every sensor (times `speed` in simulated time). Unset:
       * each simulator's own interval (its config's `intervalS` default), e.g. 5 minutes for wind.
       */
      intervalS: z.number().positive().optional(),
      /** Real seconds between two readings of the sensors of one kind, e.g. `{ wind: 5 }`; wins over `intervalS`. */
      intervals: z.record(idSchema, z.number().positive()).default({}),
      brokerUrl: z.string().default('mqtt://127.0.0.1:1883'),
      scenario: z.string().optional(),
      /** At speed <= 1, replay this many hours before now at 3600x first, so history shows at once (0: off). */
      warmupHours: z.number().min(0).max(24 * 30).default(6),
    })
    .prefault({}),
  connectors: connectorsConfigSchema,
  /**
   * Several nodes on one Redis (README "Scale out"): Aedes sessions, retained messages and
   * subscriptions in Redis, messages routed between nodes through it, the device registry
   * mirrored, one rules engine for the cluster and one upstream publisher per hub (a lease each).
   * Unset: one node, all in memory.
   */
  cluster: z
    .strictObject({
      /** redis://[user:password@]host:port[/db]; setting it turns clustering on. */
      redis: z
        .string()
        .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
        .optional(),
      /** This node's id, unique in the cluster (default: the host name and MQTT port). */
      nodeId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
      /** Lease of the rules engine and of a hub's upstream publisher, ms: the failover time after a holder dies. */
      leaseMs: z.number().int().min(2000).max(120_000).default(15_000),
    })
    .prefault({}),
});
export type Config = z.output<typeof configSchema>;

function describe(err: z.ZodError, source: string): string {
  return err.issues
    .map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('\n');
}

/** Applies STEWARD_* and INFLUX_* environment overrides to a raw (unvalidated) config object. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw) as Record<string, Record<string, unknown>>;
  const sect = (k: string): Record<string, unknown> => (out[k] ??= {});
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ConfigError(`environment ${name}: "${v}" is not a whole number`);
    return n;
  };
  const http = num('STEWARD_HTTP_PORT');
  if (http !== undefined) sect('http').port = http;
  const mqtt = num('STEWARD_MQTT_PORT');
  if (mqtt !== undefined) sect('mqtt').port = mqtt;
  const ws = num('STEWARD_WS_PORT');
  if (ws !== undefined) sect('mqtt').wsPort = ws;
  if (env.STEWARD_DATA_DIR) (out as Record<string, unknown>).dataDir = env.STEWARD_DATA_DIR;
  if (env.STEWARD_LOG_LEVEL) (out as Record<string, unknown>).logLevel = env.STEWARD_LOG_LEVEL;
  if (env.INFLUX_URL) {
    const storage = sect('storage');
    const influx = ((storage.influx as Record<string, unknown> | undefined) ??= {});
    const map: Record<string, string> = {
      INFLUX_URL: 'url',
      INFLUX_TOKEN: 'token',
      INFLUX_ORG: 'org',
      INFLUX_BUCKET: 'bucket',
      INFLUX_DATABASE: 'database',
      INFLUX_RETENTION_POLICY: 'retentionPolicy',
      INFLUX_USERNAME: 'username',
      INFLUX_PASSWORD: 'password',
      INFLUX_API: 'api',
    };
    for (const [e, k] of Object.entries(map)) if (env[e]) influx[k] = env[e];
  }
  return applyPrivacyEnv(out, env);
}

/** Validates a raw config object (after env overrides). Throws ConfigError naming every bad key. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(describe(r.error, source));
  // Roles that reach the broker default to the port it listens on (STEWARD_MQTT_PORT included).
  const given = (raw ?? {}) as Record<string, Record<string, unknown> | undefined>;
  for (const k of ['ingest', 'rules', 'simulators'] as const) {
    if (given[k]?.brokerUrl === undefined) r.data[k].brokerUrl = `mqtt://127.0.0.1:${r.data.mqtt.port}`;
  }
  return Object.freeze(r.data) as Config;
}

/**
 * Loads the config: the YAML file at `path` (or STEWARD_CONFIG; none means all defaults), then
 * environment overrides, then validation. Throws ConfigError.
 */
export function loadConfig(path: string | undefined = process.env.STEWARD_CONFIG, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown = {};
  const source = path ?? 'defaults';
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${path}: (root): must be a mapping`);
  }
  return parseConfig(applyEnv(raw as Record<string, unknown>, env), source);
}
