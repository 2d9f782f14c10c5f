/**
 * Helpers for the privacy tests (and those of egress/ and tests/): keyrings with test keys,
 * compiled policies, and fast-check arbitraries of readings carrying personal data. Test code
 * only: it reads the shipped policy file.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';
import { ATTRIBUTES, metricsOf } from '../core/catalogue.ts';
import { DOMAINS, type Domain } from '../core/ids.ts';
import type { Reading } from '../core/reading.ts';
import { PrivacyError } from './errors.ts';
import { type Keyring, memoryKeyring } from './keys.ts';
import { type CompiledPolicy, DEFAULT_POLICY_PATH, compilePolicy, parsePolicy } from './policy.ts';

/** Test secrets (never use these anywhere real). */
export const TEST_SECRETS = {
  hub: 'test-secret-hub-0123456789abcdef0123456789',
  hub2: 'test-secret-hub2-fedcba9876543210fedcba9876',
  test: 'test-secret-test-00000000000000000000000000',
} as const;

/** A keyring with the test keys `hub`, `hub2`, `test` and nothing from the environment. */
export function testKeyring(extra: Record<string, string> = {}): Keyring {
  return memoryKeyring({ ...TEST_SECRETS, ...extra });
}

/** The shipped default policy, compiled with the test keys. */
export function defaultPolicy(keyring: Keyring = testKeyring()): CompiledPolicy {
  return policyFromFile(DEFAULT_POLICY_PATH, keyring);
}

/** Reads and compiles a policy file (what egress's `loadPolicy` does, for tests). */
export function policyFromFile(path: string, keyring: Keyring = testKeyring()): CompiledPolicy {
  return compilePolicy(parsePolicy(readFileSync(path, 'utf8'), path), { keyring, source: path });
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

/** Asserts that `make` refuses the short `secret` of key `hub` with PRIVACY_ERR_KEY, naming the key and never the secret. */
export function expectShortKeyRefused(make: () => unknown, secret: string): void {
  try {
    make();
    expect.unreachable();
  } catch (e) {
    expect(e).toBeInstanceOf(PrivacyError);
    expect((e as PrivacyError).code).toBe('PRIVACY_ERR_KEY');
    expect((e as Error).message).toContain('"hub"');
    expect((e as Error).message).not.toContain(secret);
  }
}
