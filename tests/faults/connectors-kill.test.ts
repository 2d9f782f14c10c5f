/**
 * `steward connect` killed with -9 in the middle of a stream of ChirpStack uplinks. A real
 * Mosquitto stands in for ChirpStack's MQTT integration (publishing at QoS 1, as `qos=1` in
 * chirpstack.toml makes it) and holds the connector's persistent session while it is down; the
 * connector runs alone with its own spool and forwarder into a real InfluxDB 1.6. Counted per
 * sensor by sequence number (the frame counter): every uplink the broker accepted is stored, once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../registry/registry.ts';
import { settle } from '../harness/fleet.ts';
import { freePort, startInfluxDB, startMosquitto, type InfluxHandle, type MosquittoHandle } from '../harness/services.ts';
import { spawnSteward, writeConfig, type StewardProcess } from '../harness/steward.ts';
import { chirpstackTopic, chirpstackUp, GATEWAYS } from '../connectors-events.ts';

const PROFILES = new URL('../../connectors/profiles/water-level.yaml', import.meta.url).pathname;
const DEVICES = Array.from({ length: 5 }, (_, i) => ({ sensor: `w-${i}`, eui: `70b3d57ed005e1${(0xa0 + i).toString(16)}` }));

describe('a connector killed mid-stream loses nothing the network server handed over', () => {
  let dir: string;
  let influx: InfluxHandle;
  let broker: MosquittoHandle;
  let configPath: string;
  let connector: StewardProcess | undefined;

  const start = async (): Promise<StewardProcess> => {
    const p = spawnSteward(['connect', '--config', configPath], { env: { STEWARD_LOG_LEVEL: 'info' } });
    await p.waitFor(/connectors running/, 60_000);
    return p;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fault-connect-'));
    influx = await startInfluxDB({ database: 'steward' });
    broker = await startMosquitto({ config: 'max_queued_messages 100000\n' });
    const registry = Registry.open(dir);
    for (const d of DEVICES) {
      await registry.addSensor({ hub: 'demo', domain: 'water', sensor: d.sensor, password: `pw-${d.sensor}-secret-0123` });
      registry.setSensorEui('demo', d.sensor, d.eui);
    }
    registry.close();
    configPath = writeConfig(dir, {
      dataDir: dir,
      ingest: { flushIntervalMs: 100 },
      storage: { influx: { url: influx.url, database: influx.database, timeoutMs: 2000 } },
      connectors: {
        profiles: [PROFILES],
        http: { host: '127.0.0.1', port: await freePort() },
        sources: [{ name: 'farm', format: 'chirpstack-v4', mqtt: { url: broker.url, clientId: 'steward-farm' } }],
      },
    });
  });
  afterAll(async () => {
    await connector?.stop('SIGKILL');
    await broker?.stop();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 with the broker holding the persistent session: every uplink stored once, by frame counter', async () => {
    connector = await start();
    const since = Date.now();
    const ns = await mqtt.connectAsync(broker.url, { clientId: 'chirpstack', protocolVersion: 4 });
    const acked = new Map<string, number>();
    let total = 0;
    let running = true;
    // ChirpStack: each device sends frame 0, 1, 2…; the broker's PUBACK means it has the event.
    const loops = DEVICES.map(async (d, i) => {
      await new Promise((r) => setTimeout(r, i * 7));
      for (let fCnt = 0; running; fCnt++) {
        const ev = chirpstackUp({ devEui: d.eui, deviceName: d.sensor, deviceProfile: 'water-level', fCnt, time: new Date(), object: { level_cm: 100 + (fCnt % 50), water_temp: 9 }, gateways: [GATEWAYS.A] });
        await ns.publishAsync(chirpstackTopic(d.eui), JSON.stringify(ev), { qos: 1 });
        acked.set(d.sensor, fCnt + 1);
        total++;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const until = async (n: number): Promise<void> => {
      const deadline = Date.now() + 120_000;
      while (total < n) {
        if (Date.now() > deadline) throw new Error(`only ${total} uplinks published`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(800);
    // Mid-stream: the connector is receiving and committing when it dies.
    expect(Number((await influx.queryRows(`SELECT count("seq") AS c FROM "water" WHERE time >= ${since}ms`))[0]?.c ?? 0)).toBeGreaterThan(0);
    connector.proc.kill('SIGKILL');
    await connector.exited;
    await until(total + 400); // the broker queues these for the connector's session
    connector = await start();
    await until(total + 800);
    running = false;
    await Promise.all(loops);
    await ns.endAsync();
    const r = await settle(influx, acked, since);
    expect(total).toBeGreaterThan(2000);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(connector.output()).toMatch(/"sessionPresent":true/);
  });
});
