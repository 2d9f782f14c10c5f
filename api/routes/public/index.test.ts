import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.ts';
import type { ReadingStore, StoredReading } from '../../../core/store.ts';
import { createPrivacyBoundary } from '../../../egress/index.ts';
import type { CompiledPolicy } from '../../../privacy/index.ts';
import { defaultPolicy, policyFromYaml, reading } from '../../../privacy/testing.ts';
import { Registry } from '../../../registry/index.ts';
import { createEmbeddedStore } from '../../../storage/index.ts';
import { silentLogger } from '../../../telemetry/log.ts';
import { createMetrics } from '../../../telemetry/metrics.ts';
import { exactCoordinate, expectNoPersonalData } from '../../../tests/harness/privacy.ts';
import { type ApiContext, contextPlugin, STREAM_DEFAULTS } from '../../context.ts';
import { errorsPlugin } from '../../error-handler.ts';
import { zodPlugin } from '../../zod.ts';
import publicRoutes from './index.ts';

const MIN = 60_000;
const T0 = Date.UTC(2025, 4, 1, 12, 0);
const DAY = 86_400_000;
/** Household totals are per UTC day (the default policy's window). */
const DAY0 = Math.floor(T0 / DAY) * DAY;
const PERSONAL = ['Alice Smith', 'alice@example.org', '+44 20 7946 0958', 'H-0042', 'H-0043', exactCoordinate(51.50735, 4), exactCoordinate(-0.12776, 4)];

let app: FastifyInstance;
let store: ReadingStore;
let registry: Registry;
let dataDir: string;
let policy: CompiledPolicy;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'steward-privacy-api-'));
  registry = Registry.open(dataDir);
  store = createEmbeddedStore({ dataDir, logger: silentLogger, retentionDays: 0 });
  await store.start();
  policy = defaultPolicy();
  const clock = { t: T0 + 20 * MIN, now: () => clock.t };
  // Raw readings with personal data, through the boundary, into the store: what ingest does.
  // Noise drawn at 0 (the median of the Laplace distribution) so the total can be checked.
  const b = createPrivacyBoundary({ policy: { current: () => policy }, clock, noiseUniform: () => 0.5 });
  const raw = [
    reading({ ts: T0 + MIN, location: { lat: 51.50735, lon: -0.12776 } }),
    reading({ domain: 'biodiversity', sensor: 'citizen-app', kind: 'citizen', ts: T0 + 2 * MIN, metrics: { count: 3 }, species: 'Turdus merula', location: { lat: 51.50735, lon: -0.12776 }, attributes: { observer_name: 'Alice Smith', observer_email: 'alice@example.org', observer_phone: '+44 20 7946 0958', note: 'Call Alice Smith on +44 20 7946 0958' } }),
    ...Array.from({ length: 16 }, (_, i) => reading({ domain: 'energy', sensor: `meter-${i}`, kind: 'meter', ts: T0 + 3 * MIN, metrics: { household_power: 300 + i }, attributes: { household_id: `H-00${42 + i}`, area: 'North', at_home: true } })),
  ];
  const out: StoredReading[] = [];
  for (const r of raw) {
    const f = b.apply(r);
    if (f) out.push(f);
  }
  clock.t = DAY0 + DAY + 11 * MIN; // the day is over and nothing arrives for the grace period: the window closes
  out.push(...b.drain());
  const res = await store.write(out);
  expect(res.rejected).toEqual([]);
  b.stop();

  const config = parseConfig({ dataDir });
  const context: ApiContext = Object.freeze({ config, store, deadLetters: undefined, registry, metrics: createMetrics(), health: {}, sensorStatus: undefined, clock, onlineWindowMs: 15 * MIN, readyTimeoutMs: 1000, stream: STREAM_DEFAULTS });
  app = Fastify({ logger: false });
  await app.register(contextPlugin, { context, services: { policy: { current: () => policy } } });
  await app.register(errorsPlugin);
  await app.register(zodPlugin);
  await app.register(publicRoutes, { prefix: '/api/v1' });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await store?.stop();
  registry?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /api/v1/privacy/policy', () => {
  it('explains the policy in force for residents, with the machine-readable policy', async () => {
    const res = await app.inject({ url: '/api/v1/privacy/policy' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.version).toBe('default-3');
    expect(body.sections.map((s: { topic: string }) => s.topic)).toEqual(expect.arrayContaining(['Names and contact details', 'Household energy', 'Places', 'Sensitive species']));
    expect(body.policy.households).toMatchObject({ minHouseholds: 15, maxShare: 0.15 });
    expect(body.effective.energy.metrics.household_power).toBe('aggregate');
    const text = await app.inject({ url: '/api/v1/privacy/policy?format=text' });
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toContain('at least 15 households');
  });

  it('follows a reloaded policy', async () => {
    const before = policy;
    policy = policyFromYaml('version: reloaded-1');
    try {
      expect((await app.inject({ url: '/api/v1/privacy/policy' })).json().version).toBe('reloaded-1');
      expect((await app.inject({ url: '/api/v1/public/readings/latest' })).json().policy.version).toBe('reloaded-1');
    } finally {
      policy = before;
    }
  });
});

describe('public open data', () => {
  it('latest: the non-personal readings and the area total appear; nothing personal does', async () => {
    const res = await app.inject({ url: '/api/v1/public/readings/latest' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.policy).toEqual({ version: 'default-3', explanation: '/api/v1/privacy/policy' });
    const by = Object.fromEntries(body.readings.map((r: { sensor: string; metric: string; value: number }) => [`${r.sensor}.${r.metric}`, r.value]));
    expect(by).toEqual({ 'well-1.groundwater_level': 12.5, 'citizen-app.count': 3, 'area-north.demand_power': 16 * 300 + 120 });
    expectNoPersonalData(res.body, PERSONAL, 'public latest');
    expect(res.body).not.toMatch(/meter-\d/);
  });

  it('range: one metric of one sensor, and personal metrics are refused by name', async () => {
    const ok = await app.inject({ url: `/api/v1/public/readings?sensor=area-north&metric=demand_power&from=${DAY0}&to=${T0 + 60 * MIN}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ sensor: 'area-north', unit: 'W', points: [{ ts: DAY0, value: 4920 }], policy: { version: 'default-3' } });
    expect(ok.json().resolution).toBe('raw');
    // A windowed month is answered from the hourly aggregates, with the same numbers.
    const month = await app.inject({ url: `/api/v1/public/readings?sensor=area-north&metric=demand_power&from=${DAY0 - 30 * 24 * 60 * MIN}&to=${DAY0 + 24 * 60 * MIN}&window=1d&agg=sum` });
    expect(month.json()).toMatchObject({ resolution: '1h', window: '1d', points: [{ ts: DAY0, value: 4920 }] });
    const personal = await app.inject({ url: `/api/v1/public/readings?sensor=meter-1&metric=household_power&from=${T0}&to=${T0 + 60 * MIN}` });
    expect(personal.statusCode).toBe(400);
    expect(personal.json()).toMatchObject({ code: 'API_ERR_VALIDATION', parameter: 'metric', message: expect.stringContaining('household_power is personal') });
    const missing = await app.inject({ url: `/api/v1/public/readings?sensor=meter-1&metric=demand_power&from=${T0}&to=${T0 + 60 * MIN}` });
    expect(missing.statusCode).toBe(404);
    for (const r of [ok, personal, missing]) expectNoPersonalData(r.body, PERSONAL);
  });

  it('validates parameters like the rest of the API', async () => {
    const res = await app.inject({ url: '/api/v1/public/readings?sensor=well-1&metric=groundwater_level&agg=max' });
    expect(res.statusCode).toBe(400);
    expect(res.json().parameter).toBe('agg');
  });
});
