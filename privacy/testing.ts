/**
 * Helpers for the privacy tests (and the cross-folder ones in tests/): keyrings with test keys,
 * compiled policies, and fast-check arbitraries of readings carrying personal data.
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { Aedes } from 'aedes';
import fc from 'fast-check';
import { ATTRIBUTES, metricsOf } from '../core/catalogue.ts';
import { DOMAINS, type Domain } from '../core/ids.ts';
import type { Reading } from '../core/reading.ts';
import { type Keyring, createKeyring } from './keys.ts';
import { type CompiledPolicy, DEFAULT_POLICY_PATH, compilePolicy, loadPolicy, parsePolicy } from './policy.ts';

/** Test secrets (never use these anywhere real). */
export const TEST_SECRETS = {
  hub: 'test-secret-hub-0123456789abcdef0123456789',
  hub2: 'test-secret-hub2-fedcba9876543210fedcba9876',
  test: 'test-secret-test-00000000000000000000000000',
} as const;

/** A keyring with the test keys `hub`, `hub2`, `test` and nothing from the environment. */
export function testKeyring(extra: Record<string, string> = {}): Keyring {
  return createKeyring({ keys: { ...TEST_SECRETS, ...extra }, env: {} });
}

/** The shipped default policy, compiled with the test keys. */
export function defaultPolicy(keyring: Keyring = testKeyring()): CompiledPolicy {
  return loadPolicy(DEFAULT_POLICY_PATH, { keyring });
}

/**
 * The shipped policy with its household window changed (e.g. `15m`, so a test need not wait for
 * a day to end) and a grace of 1 minute: everything else as shipped.
 */
export function defaultPolicyWithWindow(window: string, keyring: Keyring = testKeyring()): CompiledPolicy {
  const doc = parsePolicy(readFileSync(DEFAULT_POLICY_PATH, 'utf8'), DEFAULT_POLICY_PATH);
  if (!doc.households) throw new Error('the shipped policy no longer has a households section');
  return compilePolicy({ ...doc, households: { ...doc.households, window, grace: '1m' } }, { keyring, source: 'default-window.yaml' });
}

/** Compiles a policy from YAML text. */
export function policyFromYaml(yaml: string, keyring: Keyring = testKeyring()): CompiledPolicy {
  return compilePolicy(parsePolicy(yaml, 'test.yaml'), { keyring, source: 'test.yaml' });
}

/** A reading with sensible defaults. */
export function reading(over: Partial<Reading> = {}): Reading {
  return { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'piezometer', ts: Date.UTC(2025, 4, 1, 12, 7, 31, 123), seq: 1, metrics: { groundwater_level: 12.5 }, ...over };
}

const id = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,15}$/);
const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.emailAddress(),
  fc.constantFrom('Alice Smith', 'Bob O’Brien', '+44 20 7946 0958', 'https://example.org/me', 'call 0612345678', 'Zoë Ünal', '51.50735, -0.12776'),
);
const attrValue = (type: 'string' | 'number' | 'boolean'): fc.Arbitrary<string | number | boolean> =>
  type === 'string' ? text : type === 'number' ? fc.double({ min: -1e6, max: 1e6, noNaN: true }) : fc.boolean();

/** Any catalogue-valid attributes, personal ones included. */
export const attributesArb: fc.Arbitrary<Record<string, string | number | boolean>> = fc
  .subarray(Object.keys(ATTRIBUTES))
  .chain((keys) => fc.tuple(...keys.map((k) => attrValue(ATTRIBUTES[k]!.type))).map((vals) => Object.fromEntries(keys.map((k, i) => [k, vals[i]!]))));

/** Any location, including the edges of the range. */
export const locationArb = fc.record(
  {
    lat: fc.oneof(fc.double({ min: -90, max: 90, noNaN: true }), fc.constantFrom(-90, 90, 0, 51.50735)),
    lon: fc.oneof(fc.double({ min: -180, max: 180, noNaN: true }), fc.constantFrom(-180, 180, 0, -0.12776)),
    acc: fc.double({ min: 0, max: 100, noNaN: true }),
  },
  { requiredKeys: ['lat', 'lon'] },
);

const metricsArb = (domain: Domain): fc.Arbitrary<Record<string, number>> => {
  const defs = metricsOf(domain);
  return fc
    .subarray(defs, { minLength: 1 })
    .chain((ds) => fc.tuple(...ds.map((d) => fc.double({ min: d.min, max: d.max, noNaN: true }))).map((vs) => Object.fromEntries(ds.map((d, i) => [d.name, vs[i]!]))));
};

/** Any valid reading (as ingest would hand it over), with arbitrary personal data. */
export const readingArb: fc.Arbitrary<Reading> = fc.constantFrom(...DOMAINS).chain((domain) =>
  fc.record(
    {
      hub: id,
      domain: fc.constant(domain),
      sensor: id,
      site: id,
      kind: fc.oneof(id, fc.constantFrom('citizen', 'meter')),
      ts: fc.integer({ min: 946684800000, max: 4102444800000 }),
      seq: fc.integer({ min: -1, max: 1e9 }),
      metrics: metricsArb(domain),
      species: fc.oneof(fc.constantFrom('Ophrys apifera', 'Lutra lutra', 'Turdus merula', 'orchis  MASCULA'), text),
      location: locationArb,
      attributes: attributesArb,
    },
    { requiredKeys: ['hub', 'domain', 'sensor', 'site', 'kind', 'ts', 'seq', 'metrics'] },
  ),
) as fc.Arbitrary<Reading>;

/** An in-process Aedes broker on a TCP port (no auth): a stand-in hub broker or regional broker. */
export interface TestBroker {
  port: number;
  aedes: Aedes;
  /** Publishes in-process, resolving once Aedes has taken it. */
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts Aedes on `port` (0 = any free port). `tap` sees every message published on it from the
 * start (subscribed before the port opens); `auth` makes it require those credentials.
 */
export async function startTestBroker(port = 0, opts: { tap?: (topic: string, payload: Buffer, retain: boolean) => void; auth?: { username: string; password: string } } = {}): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  if (opts.auth) {
    const { username, password } = opts.auth;
    aedes.authenticate = (_client, u, p, done) => {
      const ok = u === username && p?.toString() === password;
      done(ok ? null : Object.assign(new Error('bad credentials'), { returnCode: 4 }), ok);
    };
  }
  const tap = opts.tap;
  if (tap) await new Promise<void>((r) => aedes.subscribe('#', (packet, cb) => (tap(packet.topic, Buffer.from(packet.payload), packet.retain), cb()), r));
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    aedes,
    publish: (topic, payload, opts) =>
      new Promise((resolve, reject) => aedes.publish({ cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false }, (err) => (err ? reject(err) : resolve()))),
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => aedes.close(() => r()));
      await closed;
    },
  };
}
