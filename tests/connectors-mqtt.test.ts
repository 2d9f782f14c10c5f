/**
 * Connectors end to end with real processes: a Mosquitto broker stands in for ChirpStack's MQTT
 * integration, for The Things Stack's MQTT server and for a fleet of Tasmota-style devices; events
 * are the documented formats (tests/connectors-events.ts, written from the public docs); `steward
 * start --no-sim` runs the node with the connectors inside; a real HTTP client posts webhooks;
 * readings are read back from the API as the console reads them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as stewardCli } from '../cli/program.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { eventually } from './harness/devices.ts';
import { freePort, startMosquitto, type MosquittoHandle } from './harness/services.ts';
import { spawnSteward, writeConfig, type StewardProcess } from './harness/steward.ts';
import { chirpstackTopic, chirpstackUp, GATEWAYS, ttsTopic, ttsUp } from './connectors-events.ts';

const PROFILES = new URL('../connectors/profiles', import.meta.url).pathname;
const SOIL_EUI = 'A84041000181C0DE';
const LEVEL_EUI = '70B3D57ED005E1F0';
const SECRET = 'farm-webhook-secret-0123456789';

describe('connectors: ChirpStack, The Things Stack and an MQTT fleet into a running node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-connectors-'));
  const dataDir = join(dir, 'data');
  let broker: MosquittoHandle;
  let steward: StewardProcess | undefined;
  let configPath = '';
  let api = '';
  let hooks = '';
  let pub: MqttClient;
  const t0 = Date.now() - 30 * 60_000;

  const start = async (): Promise<void> => {
    steward = spawnSteward(['start', '--no-sim', '--config', configPath], { env: { STEWARD_LOG_LEVEL: 'info' } });
    await steward.waitFor(/connectors running/, 60_000);
    await steward.waitFor(/Stop with Ctrl\+C/, 30_000);
  };
  const points = async (sensor: string, metric: string): Promise<Array<{ ts: number; value: number }>> => {
    const r = await fetch(`${api}/api/v1/readings?sensor=${sensor}&metric=${metric}&from=${t0 - 3_600_000}`);
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    return ((await r.json()) as { points: Array<{ ts: number; value: number }> }).points.map((p) => ({ ts: p.ts, value: p.value }));
  };
  const csUp = (fCnt: number, at: number, object: Record<string, unknown>, gateways = [GATEWAYS.A], devEui = SOIL_EUI, name = 'soil-north') =>
    JSON.stringify(chirpstackUp({ devEui, deviceName: name, deviceProfile: 'soil-probe', fCnt, time: new Date(at), object, gateways }));
  const publish = (topic: string, payload: string, qos: 0 | 1 = 1) => pub.publishAsync(topic, payload, { qos });

  beforeAll(async () => {
    broker = await startMosquitto();
    const [httpPort, mqttPort, wsPort, hookPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const fleetProfile = join(dir, 'garden-soil.yaml');
    writeFileSync(
      fleetProfile,
      ['name: garden-soil', 'match: { sources: [garden] }', 'timestamp: device', 'timeField: Time', 'fields:', '  SOIL.Moisture: { metric: soil_moisture, unit: "%" }', '  SOIL.Temperature: { metric: soil_temperature }', 'ignore: [SOIL.Raw]', ''].join('\n'),
    );
    configPath = writeConfig(dir, {
      dataDir,
      mqtt: { host: '127.0.0.1', port: mqttPort, wsPort },
      http: { host: '127.0.0.1', port: httpPort },
      ingest: { flushIntervalMs: 100 },
      rules: { enabled: false },
      connectors: {
        profiles: [PROFILES, fleetProfile],
        http: { host: '127.0.0.1', port: hookPort },
        sources: [
          { name: 'farm', format: 'chirpstack-v4', mqtt: { url: broker.url, clientId: 'steward-farm' }, webhook: { secret: SECRET } },
          { name: 'ttn', format: 'the-things-stack-v3', mqtt: { url: broker.url, username: 'commons-hub@ttn' }, webhook: { secret: SECRET } },
          { name: 'garden', format: 'mqtt-json', hub: 'demo', mqtt: { url: broker.url, topics: ['tele/+/SENSOR'] }, options: { device: { topicLevel: 1 } } },
        ],
      },
    });
    const io = { out: () => undefined, err: (t: string) => void process.stderr.write(t) };
    expect(await stewardCli(['node', 'steward', '--config', configPath, 'sensors', 'add', 'demo', 'soil', 'soil-1', '--eui', SOIL_EUI, '--password', 'unused-password-1'], io)).toBe(0);
    expect(await stewardCli(['node', 'steward', '--config', configPath, 'sensors', 'add', 'demo', 'water', 'level-1', '--eui', LEVEL_EUI, '--password', 'unused-password-2'], io)).toBe(0);
    expect(await stewardCli(['node', 'steward', '--config', configPath, 'sensors', 'add', 'demo', 'soil', 'garden-soil', '--password', 'unused-password-3'], io)).toBe(0);
    await start();
    api = /Latest readings\s+(http:\/\/[^/\s]+)\//.exec(steward!.output())![1]!;
    hooks = `http://127.0.0.1:${hookPort}`;
    pub = await mqtt.connectAsync(broker.url, { clientId: 'network-server', protocolVersion: 4 });
  }, 120_000);

  afterAll(async () => {
    await pub?.endAsync().catch(() => undefined);
    await steward?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ChirpStack MQTT: soil probe readings mapped and converted, on the API', async () => {
    await publish(chirpstackTopic(SOIL_EUI), csUp(1, t0, { moisture: 31.2, temperature: 11.4, battery_v: 3.61 }, [GATEWAYS.A, GATEWAYS.B]));
    await publish(chirpstackTopic(SOIL_EUI, 'join'), JSON.stringify({ deviceInfo: { devEui: SOIL_EUI } }));
    expect(await eventually(async () => ((await points('soil-1', 'soil_moisture')).length ? points('soil-1', 'soil_moisture') : undefined))).toEqual([{ ts: t0, value: 0.312 }]);
    expect(await points('soil-1', 'soil_temperature')).toEqual([{ ts: t0, value: 11.4 }]);
    const latest = await (await fetch(`${api}/api/v1/readings/latest?sensor=soil-1`)).text();
    expect(latest).not.toContain(GATEWAYS.A.id);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).toContain(`steward_connector_gateway_snr_db{source="farm",gateway="${GATEWAYS.B.id}"} -4.25`);
  });

  it('The Things Stack MQTT (QoS 0): water level converted; a field that does not convert is reported once', async () => {
    for (let i = 0; i < 3; i++) {
      const m = ttsUp({ deviceId: 'level-bridge', devEui: LEVEL_EUI, modelId: 'water-level', fCnt: i, receivedAt: new Date(t0 + i * 60_000), decoded: { level_cm: 150 + i, water_temp: 'N/A', battery_v: 3.5 } });
      await publish(ttsTopic('level-bridge'), JSON.stringify(m), 0);
    }
    const got = await eventually(async () => {
      const p = await points('level-1', 'river_stage');
      return p.length === 3 ? p : undefined;
    });
    // received_at of the uplink message is the network server's time; 150 cm -> 1.5 m.
    expect(got).toEqual([0, 1, 2].map((i) => ({ ts: t0 + i * 60_000, value: 1.5 + i / 100 })));
    const lines = steward!.output().split('\n').filter((l) => l.includes('connector field') && l.includes('water_temp'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('is \\"N/A\\", not a number');
  });

  it('an unknown device is dead-lettered with a reason; a generic MQTT fleet maps by path with device time', async () => {
    await publish(chirpstackTopic('0000000000000bad'), csUp(9, t0, { moisture: 10 }, [GATEWAYS.A], '0000000000000bad', 'stray'));
    await publish('tele/garden-soil/SENSOR', JSON.stringify({ Time: new Date(t0 + 5000).toISOString(), SOIL: { Moisture: 40, Temperature: 12.5, Raw: 812 } }));
    expect(await eventually(async () => ((await points('garden-soil', 'soil_moisture')).length ? points('garden-soil', 'soil_moisture') : undefined))).toEqual([{ ts: t0 + 5000, value: 0.4 }]);
    const dl = new DeadLetterStore(dataDir);
    try {
      const letters = await eventually(() => {
        const l = dl.list({ code: 'unregistered_sensor' });
        return l.length ? l : undefined;
      });
      expect(letters[0]).toMatchObject({ topic: chirpstackTopic('0000000000000bad'), reason: expect.stringContaining('device DevEUI 0000000000000bad "stray" is not registered') });
    } finally {
      dl.close();
    }
  });

  it('duplicates via two gateways are one reading; a frame-counter reset loses and overwrites nothing', async () => {
    const base = t0 + 10 * 60_000;
    await publish(chirpstackTopic(SOIL_EUI), csUp(20, base, { moisture: 20, temperature: 9 }, [GATEWAYS.A]));
    await publish(chirpstackTopic(SOIL_EUI), csUp(20, base + 350, { moisture: 20, temperature: 9 }, [GATEWAYS.B]));
    // Rejoin: the counter restarts at 0 and 1, later.
    await publish(chirpstackTopic(SOIL_EUI), csUp(0, base + 60_000, { moisture: 21, temperature: 9 }));
    await publish(chirpstackTopic(SOIL_EUI), csUp(1, base + 120_000, { moisture: 22, temperature: 9 }));
    const p = await eventually(async () => {
      const all = (await points('soil-1', 'soil_moisture')).filter((x) => x.ts >= base);
      return all.length >= 3 ? all : undefined;
    });
    expect(p).toEqual([
      { ts: base, value: 0.2 },
      { ts: base + 60_000, value: 0.21 },
      { ts: base + 120_000, value: 0.22 },
    ]);
  });

  it('webhooks: ChirpStack HTTP integration and The Things Stack webhook, 200 once stored; 401 without the secret', async () => {
    const at = t0 + 20 * 60_000;
    const post = (name: string, body: string, query = '', secret = SECRET) => fetch(`${hooks}/api/v1/connect/${name}${query}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-steward-secret': secret }, body });
    expect((await post('farm', csUp(30, at, { moisture: 33, temperature: 10 }), '?event=up', 'not-the-secret')).status).toBe(401);
    const r = await post('farm', csUp(30, at, { moisture: 33, temperature: 10 }), '?event=up');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ result: 'accepted', sensor: 'soil-1', seq: 30, ts: at });
    expect((await post('farm', '{"deviceInfo":{}}', '?event=status')).status).toBe(200);
    const t = await post('ttn', JSON.stringify(ttsUp({ deviceId: 'level-bridge', devEui: LEVEL_EUI, modelId: 'water-level', fCnt: 40, receivedAt: new Date(at), decoded: { level_cm: 161.5, water_temp: 8.5 } })));
    expect(t.status).toBe(200);
    await eventually(async () => (await points('level-1', 'water_temperature')).some((x) => x.ts === at && x.value === 8.5));
    await eventually(async () => (await points('soil-1', 'soil_moisture')).some((x) => x.ts === at && x.value === 0.33));
  });

  it('a retry after Steward was down: everything the broker held arrives once', async () => {
    expect(await steward!.stop()).toBe(0);
    const base = t0 + 25 * 60_000;
    // ChirpStack publishes at QoS 1 while Steward is down; Mosquitto keeps them for the connector's persistent session.
    for (let i = 0; i < 5; i++) await publish(chirpstackTopic(SOIL_EUI), csUp(100 + i, base + i * 1000, { moisture: 10 + i, temperature: 8 }));
    await start();
    // The network server retries one it never saw acknowledged: the same event again.
    await publish(chirpstackTopic(SOIL_EUI), csUp(102, base + 2000, { moisture: 12, temperature: 8 }));
    const got = await eventually(async () => {
      const p = (await points('soil-1', 'soil_moisture')).filter((x) => x.ts >= base && x.ts < base + 10_000);
      return p.length === 5 ? p : undefined;
    });
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => ({ ts: base + i * 1000, value: (10 + i) / 100 })));
  });
});
