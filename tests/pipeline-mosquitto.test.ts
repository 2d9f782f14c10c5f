/**
 * Scenario: a hub that already runs Mosquitto points Steward's ingest at it instead of Aedes, and
 * stores into a server that speaks the InfluxDB v2 write API (Debian's VictoriaMetrics stands in
 * for InfluxDB 2.x/3.x, which cannot be installed here). A foreign client (mosquitto_pub) is the
 * device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import { createIngest, type Ingest } from '../ingest/ingest.ts';
import { createDefaultFilter } from '../privacy/index.ts';
import { Registry } from '../registry/registry.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createStore } from '../storage/index.ts';
import type { ReadingStore } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { eventually } from './harness/devices.ts';
import { runCli, startMosquitto, startVictoriaMetrics, type MosquittoHandle, type VmHandle } from './harness/services.ts';

describe('ingest on a real Mosquitto, writing through the v2 API', () => {
  let dir: string;
  let mosq: MosquittoHandle;
  let vm: VmHandle;
  let registry: Registry;
  let store: ReadingStore;
  let dead: DeadLetterStore;
  let ingest: Ingest;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-mosq-'));
    [mosq, vm] = await Promise.all([startMosquitto(), startVictoriaMetrics()]);
    const config = parseConfig({ dataDir: dir, ingest: { flushIntervalMs: 50 }, storage: { influx: { url: vm.url, api: 'v2', org: 'hub', bucket: 'steward', token: 'unused-by-vm' } } });
    registry = Registry.open(dir);
    await registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-7', password: 'unused-on-mosquitto' });
    store = createStore(config, { logger: silentLogger, metrics: createMetrics() });
    await store.start();
    dead = new DeadLetterStore(dir);
    ingest = createIngest({ config, store, registry, deadLetters: dead, privacy: createDefaultFilter(), metrics: createMetrics(), logger: silentLogger, credentials: { username: 'ingest', password: 'x' }, brokerUrl: mosq.url });
    await ingest.start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await store?.stop();
    dead?.close();
    registry?.close();
    await Promise.all([mosq?.stop(), vm?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('receives readings published by mosquitto_pub and stores them through /api/v2/write', async () => {
    const t0 = Date.now() - 60_000;
    for (let seq = 0; seq < 5; seq++) {
      const payload = JSON.stringify({ ts: t0 + seq * 1000, seq, metrics: { groundwater_level: 40 + seq, withdrawal: { value: 500, unit: 'l' } } });
      const r = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'csm/v1/demo/water/well-7/data', '-m', payload]);
      expect(r.code).toBe(0);
    }
    const series = await eventually(async () => {
      const s = await vm.exportSeries('{__name__="water_groundwater_level"}');
      return s[0] && s[0].values.length >= 5 ? s : undefined;
    });
    expect(series[0]!.metric).toMatchObject({ hub: 'demo', sensor: 'well-7', site: 'well-7', kind: 'water' });
    expect(series[0]!.values).toEqual([40, 41, 42, 43, 44]);
    expect(series[0]!.timestamps).toEqual([0, 1, 2, 3, 4].map((i) => t0 + i * 1000));
    const withdrawal = await vm.exportSeries('{__name__="water_withdrawal"}');
    expect(withdrawal[0]!.values[0]).toBe(0.5);
  });

  it('dead-letters a bad message from the foreign client and keeps consuming', async () => {
    await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'csm/v1/demo/water/well-7/data', '-m', '{"ts":"yesterday"}']);
    await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'csm/v1/demo/water/well-7/data', '-m', JSON.stringify({ ts: Date.now() - 1000, seq: 99, metrics: { ph: 7.1 } })]);
    await eventually(() => dead.list().some((d) => d.sensor === 'well-7' && d.code === 'schema'));
    await eventually(async () => (await vm.exportSeries('{__name__="water_ph"}'))[0]?.values.includes(7.1));
  });
});
