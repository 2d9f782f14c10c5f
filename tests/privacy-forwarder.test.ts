/**
 * The privacy boundary inside the real pipeline stage: spool -> Forwarder -> boundary -> embedded
 * store, with the household groups drained into the same store the way privacy/README.md tells
 * the forwarder to. Audits the store (its answers and its file) for personal data.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../core/clock.ts';
import type { Reading } from '../core/reading.ts';
import { Forwarder } from '../ingest/forwarder.ts';
import { Spool } from '../ingest/spool.ts';
import { createPrivacyBoundary, type PrivacyBoundary } from '../egress/index.ts';
import { fixedPolicy } from '../privacy/index.ts';
import { defaultPolicyWithWindow } from '../privacy/testing.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics, type PipelineMetrics } from '../telemetry/metrics.ts';
import { exactCoordinate, expectNoPersonalData } from './harness/privacy.ts';

const MIN = 60_000;
const NOW = Date.now();
const T0 = Math.floor((NOW - 60 * MIN) / (15 * MIN)) * (15 * MIN);
const HOME = { lat: 48.85661, lon: 2.35222 };
const ORCHID = { lat: 51.50735, lon: -0.12776 };
const households = Array.from({ length: 16 }, (_, i) => `HH-${1000 + i}`);
const PERSONAL = ['Camille Martin', 'camille.martin@example.org', '+33 6 12 34 56 78', ...households, ...[HOME.lat, HOME.lon, ORCHID.lat, ORCHID.lon].map((v) => exactCoordinate(v, 3))];

let dir: string;
let spool: Spool;
let dead: DeadLetterStore;
let store: EmbeddedStore;
let boundary: PrivacyBoundary;
let metrics: PipelineMetrics;
let fwd: Forwarder;
const clock = { t: NOW, now: () => clock.t };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'steward-privacy-fwd-'));
  spool = new Spool(dir);
  dead = new DeadLetterStore(dir);
  store = createEmbeddedStore({ dataDir: dir, logger: silentLogger, retentionDays: 0 });
  await store.start();
  metrics = createMetrics();
  // The shipped policy with 15-minute household windows and the noise drawn at 0 (its median), so
  // the area total can be checked; the noise has its own tests (privacy/households.test.ts).
  boundary = createPrivacyBoundary({ policy: fixedPolicy(defaultPolicyWithWindow('15m')), dataDir: dir, metrics, clock, noiseUniform: () => 0.5 });
  fwd = new Forwarder({ spool, store, privacy: boundary, deadLetters: dead, metrics, logger: silentLogger, clock: systemClock, batchSize: 100, flushIntervalMs: 20 });
});

afterEach(async () => {
  await fwd.stop(100);
  boundary.stop();
  await store.stop();
  spool.close();
  dead.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = { hub: 'demo', seq: 1 } as const;

it('only filtered data reaches storage; household loads only as area totals; unfilterable readings wait in the dead letters', async () => {
  const raw: Reading[] = [
    { ...base, domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'piezometer', ts: T0 + MIN, metrics: { groundwater_level: 12.5 } },
    { ...base, domain: 'soil', sensor: 'garden-probe', site: 'garden', kind: 'probe', ts: T0 + MIN, metrics: { soil_moisture: 0.31 }, location: HOME, attributes: { at_home: true } },
    {
      ...base,
      domain: 'biodiversity',
      sensor: 'citizen-app',
      site: 'citizen-app',
      kind: 'citizen',
      ts: T0 + 2 * MIN,
      metrics: { count: 1 },
      species: 'Ophrys apifera',
      location: ORCHID,
      attributes: { observer_name: 'Camille Martin', observer_email: 'camille.martin@example.org', observer_phone: '+33 6 12 34 56 78', note: 'Bee orchid by the path — Camille, camille.martin@example.org', method: 'visual' },
    },
    ...households.map((h, i): Reading => ({ ...base, domain: 'energy', sensor: `meter-${i}`, site: 'meter', kind: 'meter', ts: T0 + 3 * MIN, metrics: { household_power: 200 + 10 * i }, location: HOME, attributes: { household_id: h, area: 'Canal', at_home: true } })),
    // No area: cannot be aggregated, so it is withheld and kept with a reason.
    { ...base, domain: 'energy', sensor: 'meter-x', site: 'meter', kind: 'meter', ts: T0 + 3 * MIN, metrics: { household_power: 999 }, attributes: { household_id: 'HH-9999' } },
  ];
  spool.append(raw);
  fwd.start();
  await expect.poll(() => spool.depth()).toBe(0);

  // The forwarder's drain step (privacy/README.md "Wiring"): store the closed groups, then ack.
  clock.t = NOW + 2 * MIN; // the window ended long ago and nothing arrived for the grace period
  const groups = boundary.drain();
  expect(groups).toHaveLength(1);
  expect((await store.write(groups)).rejected).toEqual([]);
  boundary.ack(groups);
  expect(boundary.drain()).toEqual([]);

  const latest = await store.latest({ hub: 'demo' });
  const by = Object.fromEntries(latest.map((e) => [`${e.sensor}.${e.metric}`, e.value]));
  expect(by).toEqual({ 'well-1.groundwater_level': 12.5, 'garden-probe.soil_moisture': 0.31, 'citizen-app.count': 1, 'area-canal.demand_power': 16 * 200 + 10 * 120 });
  expect(await store.range({ hub: 'demo', sensor: 'area-canal', metric: 'demand_power', from: T0, to: T0 + 60 * MIN })).toEqual([{ ts: T0, value: 4400 }]);
  expectNoPersonalData(latest, PERSONAL, 'store.latest');

  // Nothing personal in the store's files either (the spool and the dead letters are the raw tier).
  const files = readdirSync(dir).filter((f) => f.startsWith('store.db'));
  expect(files.length).toBeGreaterThan(0);
  expectNoPersonalData(Buffer.concat(files.map((f) => readFileSync(join(dir, f)))), PERSONAL, 'store.db');

  const letters = dead.list({});
  expect(letters).toEqual([expect.objectContaining({ code: 'privacy_failed', sensor: 'meter-x', reason: expect.stringContaining('attributes.area') })]);
  const actions = Object.fromEntries((await metrics.privacyActions.get()).values.map((v) => [v.labels.action, v.value]));
  expect(actions).toMatchObject({ aggregated: 16, emitted: 1, generalised: 1, coarsened: 1 });
  // Free text is not published by default: the note stayed in the raw tier, whole.
  expect(actions.scrubbed).toBeUndefined();
  expectNoPersonalData(Buffer.concat(files.map((f) => readFileSync(join(dir, f)))), ['Bee orchid by the path'], 'store.db (note)');
});
