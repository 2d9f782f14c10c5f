/**
 * Scenario: ingest runs as its own process (`steward ingest`) and writes to a real InfluxDB 1.6.7.
 * Devices publish numbered readings continuously while we kill -9 ingest, and while InfluxDB is
 * down for a minute. Losses and duplicates are counted with per-sensor sequence numbers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../broker/broker.ts';
import { parseConfig } from '../core/config.ts';
import type { Domain } from '../core/ids.ts';
import { Registry } from '../registry/registry.ts';
import { silentLogger } from '../telemetry/log.ts';
import { connectDevice, eventually, validPayload, type TestDevice } from './harness/devices.ts';
import { startInfluxDB, type InfluxHandle } from './harness/services.ts';
import { spawnSteward, writeConfig, type StewardProcess } from './harness/steward.ts';

const FIELD: Record<Domain, string> = { water: 'groundwater_level', soil: 'soil_moisture', energy: 'pv_power', biodiversity: 'count' };

/** Publishes numbered readings from each device every `everyMs` until stopped; returns counts sent (PUBACKed). */
function stream(devices: TestDevice[], t0: number, everyMs = 20) {
  let running = true;
  const sent = new Map<string, number>();
  const loops = devices.map(async (d) => {
    let seq = 0;
    while (running) {
      try {
        await d.publishRaw(JSON.stringify(validPayload(d.domain, seq, t0 + seq * 10)));
        seq++;
        sent.set(d.sensor, seq);
      } catch {
        // Broker-side hiccup: the device retries the same seq, as real devices do.
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
  return {
    sent,
    async stop() {
      running = false;
      await Promise.all(loops);
      return sent;
    },
  };
}

/** count(field) and count(distinct(seq)) per sensor in [from, from + 30 min), from InfluxDB itself. */
async function countsInInflux(influx: InfluxHandle, domain: Domain, sensor: string, from: number): Promise<{ count: number; distinct: number }> {
  const q = await influx.queryRows(`SELECT count("${FIELD[domain]}") AS n, count(distinct("seq")) AS d FROM "${domain}" WHERE "sensor" = '${sensor}' AND time >= ${from}ms AND time < ${from + 1_800_000}ms`);
  return { count: Number(q[0]?.n ?? 0), distinct: Number(q[0]?.d ?? 0) };
}

describe('ingest process with a real InfluxDB', () => {
  let dir: string;
  let influx: InfluxHandle;
  let registry: Registry;
  let broker: ReturnType<typeof createBroker>;
  let brokerUrl: string;
  let ingest: StewardProcess | undefined;
  let configPath: string;
  let ingestPassword: string;
  const devices: TestDevice[] = [];

  const startIngest = async (): Promise<StewardProcess> => {
    const p = spawnSteward(['ingest', '--config', configPath], { env: { STEWARD_INGEST_PASSWORD: ingestPassword, STEWARD_LOG_LEVEL: 'info' } });
    await p.waitFor(/ingest subscribed/);
    return p;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-influx-e2e-'));
    influx = await startInfluxDB({ database: 'steward' });
    const config = parseConfig({ dataDir: dir, mqtt: { port: 0, wsPort: 0, host: '127.0.0.1' } });
    registry = Registry.open(dir);
    broker = createBroker({ config: config.mqtt, registry, logger: silentLogger });
    const ports = await broker.start();
    brokerUrl = `mqtt://127.0.0.1:${ports.mqtt}`;
    ingestPassword = (await registry.addAccount({ name: 'ingest', role: 'service' })).password;
    configPath = writeConfig(dir, {
      dataDir: dir,
      http: { rolePorts: { broker: 0, ingest: 0, rules: 0 } },
      ingest: { brokerUrl, username: 'ingest', clientId: 'ingest-e2e', flushIntervalMs: 100 },
      storage: { influx: { url: influx.url, database: 'steward', timeoutMs: 2000 } },
    });
    const fleet: Array<[Domain, string]> = [
      ['water', 'well-1'],
      ['soil', 'soil-1'],
      ['energy', 'pv-1'],
      ['biodiversity', 'am-1'],
    ];
    for (const [domain, sensor] of fleet) devices.push(await connectDevice(registry, brokerUrl, 'demo', domain, sensor));
  });

  afterAll(async () => {
    for (const d of devices) await d.end().catch(() => {});
    await ingest?.stop();
    await broker?.stop();
    await influx?.stop();
    registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing and duplicates nothing when ingest is killed with SIGKILL mid-stream', async () => {
    ingest = await startIngest();
    const t0 = Date.now() - 3_600_000;
    const s = stream(devices, t0);
    await new Promise((r) => setTimeout(r, 2000));
    ingest.proc.kill('SIGKILL');
    await ingest.exited;
    // Devices keep publishing while ingest is dead: the broker queues for its persistent session.
    await new Promise((r) => setTimeout(r, 2000));
    ingest = await startIngest();
    await new Promise((r) => setTimeout(r, 2000));
    const sent = await s.stop();
    for (const d of devices) {
      const want = sent.get(d.sensor)!;
      expect(want).toBeGreaterThan(50);
      const got = await eventually(async () => {
        const c = await countsInInflux(influx, d.domain, d.sensor, t0);
        return c.count >= want ? c : undefined;
      }, 30_000).catch(async (e) => {
        const rows = await influx.queryRows(`SELECT "seq" FROM "${d.domain}" WHERE "sensor" = '${d.sensor}' AND time >= ${t0}ms AND time < ${t0 + 1_800_000}ms`);
        const have = new Set(rows.map((r) => Number(r.seq)));
        const missing = [...Array(want).keys()].filter((i) => !have.has(i));
        throw new Error(`${d.sensor}: sent ${want}, stored ${have.size}, missing seqs ${missing.join(',')}: ${(e as Error).message}\n${ingest?.output().slice(-2000)}`);
      });
      expect(got).toEqual({ count: want, distinct: want });
    }
    await ingest.stop();
    expect(ingest.output()).toMatch(/ingest stopped/);
  });

  it('holds every reading through a one-minute InfluxDB outage and delivers each exactly once after it', async () => {
    ingest = await startIngest();
    const t0 = Date.now() - 7_200_000;
    const s = stream(devices, t0, 50);
    await new Promise((r) => setTimeout(r, 1500));
    await influx.pause();
    await new Promise((r) => setTimeout(r, 60_000));
    await influx.resume();
    await new Promise((r) => setTimeout(r, 1500));
    const sent = await s.stop();
    for (const d of devices) {
      const want = sent.get(d.sensor)!;
      const got = await eventually(async () => {
        const c = await countsInInflux(influx, d.domain, d.sensor, t0);
        return c.count >= want ? c : undefined;
      }, 60_000, 500);
      expect(got).toEqual({ count: want, distinct: want });
    }
    expect(ingest.output()).toMatch(/storage unavailable; readings stay in the spool/);
    await ingest.stop();
  });
});
