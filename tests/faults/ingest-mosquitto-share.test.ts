/**
 * Scenario: a hub already runs Mosquitto 2 and scales Steward's ingest out to two worker
 * processes (`steward ingest`, each with its own data dir and client id) in the MQTT shared
 * subscription group `$share/workers/...`, storing into a real InfluxDB 1.6. Twenty devices
 * (mqtt.js) publish numbered readings at QoS 1; `mosquitto_pub` publishes a few as a foreign
 * client. One worker is killed with SIGKILL mid-stream and restarted a few seconds later.
 * Losses and duplicates are counted per sensor by sequence number against what Mosquitto
 * acknowledged to the devices.
 *
 * Mosquitto: anonymous access (the harness default: no password file; the workers' user name and
 * password are sent and ignored), persistence on, `max_queued_messages 0` (no limit) and
 * `max_inflight_messages 100`.
 *
 * How Mosquitto 2.0 treats a killed member of a shared subscription (src/subs.c,
 * `subs__shared_process`): it hands each message to the next member of the group in turn,
 * connected or not. A member with a persistent session (clean=false, which the subscriber uses)
 * keeps its subscription while disconnected, so about half of what is published while it is down
 * is queued in ITS session, not given to the surviving worker; so are the messages that were in
 * flight to it (sent, not acknowledged) at the kill. Nothing goes to the other worker instead.
 * They are delivered when a worker with the same client id reconnects (in-flight ones again, with
 * DUP). Hence the test restarts the killed worker with its own client id and data dir, and the
 * queue limit is raised: at the default of 1000 Mosquitto would drop that member's queue beyond
 * 1000 messages ("Outgoing messages are being dropped for client ...").
 *
 * Duplicates: a message the killed worker had spooled but not yet acknowledged is redelivered
 * and spooled again (at least once). InfluxDB keeps one point per series and timestamp, so such a
 * reading is stored once; the count per sensor below shows that no reading was stored as a second,
 * different point (count(seq) == count(distinct(seq))) and none is missing.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Domain } from '../../core/ids.ts';
import { dataTopic } from '../../core/topics.ts';
import { Registry } from '../../registry/registry.ts';
import { eventually, validPayload } from '../harness/devices.ts';
import { runCli, startInfluxDB, startMosquitto, type InfluxHandle, type MosquittoHandle } from '../harness/services.ts';
import { spawnSteward, writeConfig, type StewardProcess } from '../harness/steward.ts';

const FIELD: Record<Domain, string> = { water: 'groundwater_level', soil: 'soil_moisture', energy: 'pv_power', biodiversity: 'count' };
const DOMAINS: Array<[Domain, string]> = [
  ['water', 'well'],
  ['soil', 'soil'],
  ['energy', 'pv'],
  ['biodiversity', 'am'],
];
const FLEET: Array<{ domain: Domain; sensor: string }> = DOMAINS.flatMap(([domain, prefix]) => [1, 2, 3, 4, 5].map((i) => ({ domain, sensor: `${prefix}-${i}` })));
const FOREIGN = { domain: 'water' as Domain, sensor: 'well-foreign' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Readings a worker process accepted (validated and spooled) since it started, from its /metrics. */
async function accepted(p: StewardProcess): Promise<number> {
  const url = /"url":"(http:\/\/[^"]+)","msg":"health, readiness and metrics served"/.exec(p.output())?.[1];
  if (!url) throw new Error(`no ops URL in the worker's output:\n${p.output().slice(-2000)}`);
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^steward_readings_accepted_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

interface Device {
  domain: Domain;
  sensor: string;
  client: MqttClient;
}

/** Each device publishes numbered readings at QoS 1; `sent` counts what Mosquitto acknowledged. */
function stream(devices: Device[], t0: number, everyMs: number) {
  let running = true;
  const sent = new Map<string, number>();
  const loops = devices.map(async (d) => {
    let seq = 0;
    const topic = dataTopic({ hub: 'demo', domain: d.domain, sensor: d.sensor });
    while (running) {
      try {
        await d.client.publishAsync(topic, JSON.stringify(validPayload(d.domain, seq, t0 + seq * 10)), { qos: 1 });
        seq++;
        sent.set(d.sensor, seq);
      } catch {
        // not acknowledged: the device resends the same seq
      }
      await sleep(everyMs);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return sent;
    },
  };
}

async function counts(influx: InfluxHandle, domain: Domain, sensor: string, from: number): Promise<{ count: number; distinct: number; max: number }> {
  const q = await influx.queryRows(`SELECT count("${FIELD[domain]}") AS n, count(distinct("seq")) AS d, max("seq") AS m FROM "${domain}" WHERE "sensor" = '${sensor}' AND time >= ${from}ms AND time < ${from + 1_800_000}ms`);
  return { count: Number(q[0]?.n ?? 0), distinct: Number(q[0]?.d ?? 0), max: Number(q[0]?.m ?? -1) };
}

describe('two $share ingest workers on a real Mosquitto, one killed mid-stream', () => {
  let root: string;
  let mosq: MosquittoHandle;
  let influx: InfluxHandle;
  const devices: Device[] = [];
  const workers: Record<'a' | 'b', { dir: string; config: string; proc?: StewardProcess }> = { a: { dir: '', config: '' }, b: { dir: '', config: '' } };

  const startWorker = async (name: 'a' | 'b'): Promise<StewardProcess> => {
    const w = workers[name];
    const p = spawnSteward(['ingest', '--config', w.config], { env: { STEWARD_LOG_LEVEL: 'info' } });
    w.proc = p;
    await p.waitFor(/ingest subscribed/);
    return p;
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'steward-share-'));
    [mosq, influx] = await Promise.all([startMosquitto({ persistence: true, maxQueuedMessages: 0, maxInflightMessages: 100 }), startInfluxDB({ database: 'steward' })]);
    for (const name of ['a', 'b'] as const) {
      const dir = join(root, name);
      mkdirSync(dir);
      // Each worker validates against its own registry: the hub's sensors are registered in both.
      const registry = Registry.open(dir);
      for (const s of [...FLEET, FOREIGN]) await registry.addSensor({ hub: 'demo', domain: s.domain, sensor: s.sensor, password: `pw-${s.sensor}-unused-on-mosquitto` });
      registry.close();
      workers[name] = {
        dir,
        config: writeConfig(dir, {
          dataDir: dir,
          http: { host: '127.0.0.1', rolePorts: { ingest: 0 } },
          ingest: { brokerUrl: mosq.url, username: 'ingest', password: 'ignored-by-anonymous-mosquitto', clientId: `ingest-${name}`, shareGroup: 'workers', flushIntervalMs: 100 },
          storage: { influx: { url: influx.url, database: 'steward', timeoutMs: 2000 } },
        }),
      };
    }
    for (const d of FLEET) {
      const client = await mqtt.connectAsync(mosq.url, { clientId: `demo.${d.sensor}`, protocolVersion: 4, clean: true, reconnectPeriod: 500 });
      devices.push({ ...d, client });
    }
  });

  afterAll(async () => {
    for (const d of devices) await d.client.endAsync().catch(() => undefined);
    for (const w of Object.values(workers)) await w.proc?.stop();
    await Promise.all([mosq?.stop(), influx?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  it('loses no acknowledged reading and stores none twice', async () => {
    await Promise.all([startWorker('a'), startWorker('b')]);
    const t0 = Date.now() - 3_600_000;
    const s = stream(devices, t0, 40);
    await sleep(2500);
    const a = workers.a.proc!;
    a.proc.kill('SIGKILL');
    await a.exited;
    // While worker a is down, Mosquitto keeps handing it every other message (queued in its session).
    await sleep(3000);
    const restarted = await startWorker('a');
    // Its share of what was published while it was down is handed to it at once.
    await eventually(async () => (await accepted(restarted)) > 100, 10_000);
    // The foreign client publishes through the same group.
    const tf = Date.now() - 60_000;
    for (let seq = 0; seq < 5; seq++) {
      const r = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', dataTopic({ hub: 'demo', ...FOREIGN }), '-m', JSON.stringify({ ts: tf + seq * 1000, seq, metrics: { groundwater_level: 30 + seq } })]);
      expect(r.code, r.stderr).toBe(0);
    }
    await sleep(2500);
    const sent = await s.stop();

    // The restarted worker resumed its session: what Mosquitto held for it came to it.
    expect(restarted.output()).toMatch(/"sessionPresent":true/);
    expect(await accepted(workers.b.proc!)).toBeGreaterThan(0);
    for (const d of FLEET) {
      const want = sent.get(d.sensor) ?? 0;
      expect(want).toBeGreaterThan(50);
      const got = await eventually(async () => {
        const c = await counts(influx, d.domain, d.sensor, t0);
        return c.count >= want ? c : undefined;
      }, 60_000, 250).catch(async (e) => {
        const rows = await influx.queryRows(`SELECT "seq" FROM "${d.domain}" WHERE "sensor" = '${d.sensor}' AND time >= ${t0}ms AND time < ${t0 + 1_800_000}ms`);
        const have = new Set(rows.map((r) => Number(r.seq)));
        const missing = [...Array(want).keys()].filter((i) => !have.has(i));
        throw new Error(`${d.sensor}: acknowledged ${want}, stored ${have.size}, missing seqs ${missing.join(',')}: ${(e as Error).message}\n${await mosq.logTail(20)}`);
      });
      expect({ sensor: d.sensor, ...got }).toEqual({ sensor: d.sensor, count: want, distinct: want, max: want - 1 });
    }
    const foreign = await eventually(async () => {
      const c = await counts(influx, 'water', FOREIGN.sensor, tf);
      return c.count >= 5 ? c : undefined;
    }, 30_000);
    expect(foreign).toEqual({ count: 5, distinct: 5, max: 4 });
    expect(await mosq.logTail(200)).not.toMatch(/messages are being dropped/);

    for (const name of ['a', 'b'] as const) {
      const p = workers[name].proc!;
      expect(await p.stop()).toBe(0);
      expect(p.output()).toMatch(/ingest stopped/);
    }
  });
});
