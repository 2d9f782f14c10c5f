/**
 * Connectors without a network: the documented event formats decoded, mapping profiles validated
 * (errors name file and field), and the host in front of a real intake and SQLite spool: unit
 * conversion, unknown devices dead-lettered, unreadable fields reported once per profile,
 * duplicates and frame-counter resets; the webhook answering 503 while the spool is full and 200
 * once it has the reading (a real HTTP client against the connectors' HTTP server).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import { Intake } from '../ingest/intake.ts';
import { Spool } from '../ingest/spool.ts';
import { closeIntakeParts, openIntakeParts } from '../ingest/testing.ts';
import { Registry } from '../registry/registry.ts';
import type { DeadLetterStore } from '../storage/deadletters.ts';
import { silentLogger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { runCli } from '../cli/program.ts';
import { FORMATS, getFormat } from '../connectors/all.ts';
import { checkConnectors } from '../connectors/check.ts';
import { ConnectorHost, type Outcome } from '../connectors/host.ts';
import { loadProfiles, ProfileError } from '../connectors/mapping.ts';
import { startConnectors } from '../connectors/service.ts';
import type { Decoded, SourceConfig } from '../connectors/types.ts';
import mqtt from 'mqtt';
import { startMosquitto } from './harness/services.ts';
import { chirpstackTopic, chirpstackUp, GATEWAYS, ttsTopic, ttsUp } from './connectors-events.ts';

const PROFILES = new URL('../connectors/profiles', import.meta.url).pathname;
const SOIL_EUI = 'a84041000181c0de';
const LEVEL_EUI = '70b3d57ed005e1f0';
const chirpstack = getFormat('chirpstack-v4')!;
const tts = getFormat('the-things-stack-v3')!;
const source: SourceConfig = { name: 'farm', format: 'chirpstack-v4', options: {} };

describe('formats read the documented events', () => {
  it('every format folder is registered under its folder name, and nothing else is', () => {
    const dir = new URL('../connectors/', import.meta.url);
    const folders = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(new URL(`${e.name}/index.ts`, dir)))
      .map((e) => e.name);
    expect(Object.keys(FORMATS).sort()).toEqual(folders.sort());
  });

  it('ChirpStack v4: device, profile, frame counter, network time, decoded object and gateways', () => {
    const time = new Date('2026-03-01T10:00:00.000Z');
    const ev = chirpstackUp({ devEui: SOIL_EUI, deviceName: 'soil-north', deviceProfile: 'soil-probe', fCnt: 42, time, object: { moisture: 31.2 }, gateways: [GATEWAYS.A, GATEWAYS.B] });
    const d = chirpstack.fromMqtt!(chirpstackTopic(SOIL_EUI), Buffer.from(JSON.stringify(ev)), {});
    expect(d).toEqual({
      kind: 'uplink',
      uplink: { device: { eui: SOIL_EUI, name: 'soil-north' }, deviceProfile: 'soil-probe', fCnt: 42, networkTime: time.getTime(), fields: { moisture: 31.2 }, gateways: [{ id: GATEWAYS.A.id, rssi: -87, snr: 7.5 }, { id: GATEWAYS.B.id, rssi: -112, snr: -4.25 }] },
    });
    // fCnt 0 is omitted by the server's JSON: it is frame 0, not an error.
    const zero = chirpstack.fromWebhook!(chirpstackUp({ devEui: SOIL_EUI, deviceName: 'soil-north', deviceProfile: 'soil-probe', fCnt: 0, time, object: { moisture: 1 } }), { event: 'up' }, {});
    expect(zero.kind === 'uplink' && zero.uplink.fCnt).toBe(0);
    expect(chirpstack.fromWebhook!({}, { event: 'join' }, {})).toMatchObject({ kind: 'ignore' });
    expect(chirpstack.fromMqtt!(chirpstackTopic(SOIL_EUI, 'status'), Buffer.from('{}'), {})).toMatchObject({ kind: 'ignore' });
    expect(chirpstack.fromMqtt!(chirpstackTopic(SOIL_EUI), Buffer.from('\x08\x01'), {})).toMatchObject({ kind: 'invalid' });
  });

  it('The Things Stack v3: end_device_ids, received_at, f_cnt, decoded_payload, model id, rx_metadata', () => {
    const t = new Date('2026-03-01T10:00:00.000Z');
    const m = ttsUp({ deviceId: 'level-bridge', devEui: LEVEL_EUI, modelId: 'water-level', fCnt: 7, receivedAt: t, decoded: { level_cm: 152.4 } });
    const d = tts.fromMqtt!(ttsTopic('level-bridge'), Buffer.from(JSON.stringify(m)), {});
    expect(d).toEqual({
      kind: 'uplink',
      uplink: { device: { eui: LEVEL_EUI, name: 'level-bridge' }, deviceProfile: 'water-level', fCnt: 7, networkTime: t.getTime(), fields: { level_cm: 152.4 }, gateways: [{ id: 'gw-a14c', rssi: -87, snr: 7.5 }] },
    });
    expect(tts.fromWebhook!({ end_device_ids: { device_id: 'x' }, join_accept: {} }, {}, {})).toMatchObject({ kind: 'ignore' });
  });
});

describe('mapping profiles', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'steward-profiles-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the shipped samples load', () => {
    expect(loadProfiles([PROFILES]).map((p) => [p.name, p.domain])).toEqual([
      ['soil-probe', 'soil'],
      ['water-level', 'water'],
    ]);
  });

  it('errors name the file and the field', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, ['name: bad', 'match: { deviceProfiles: [x] }', 'timestamp: device', 'fields:', '  t: { metric: soil_temperature, unit: degF }', '  m: { metric: soil_wetness }', ''].join('\n'));
    let err: ProfileError | undefined;
    try {
      loadProfiles([f]);
    } catch (e) {
      err = e as ProfileError;
    }
    expect(err).toBeInstanceOf(ProfileError);
    expect(err!.problems).toEqual(
      expect.arrayContaining([
        `${f}: timeField: timestamp: device needs the decoded field that holds the time`,
        `${f}: fields.t.unit: unit "degF" cannot be converted to the canonical unit "Cel" of soil_temperature`,
        `${f}: fields.m.metric: "soil_wetness" is not a catalogue metric (core/catalogue.ts)`,
      ]),
    );
  });

  it('steward connect check validates sources and profiles', async () => {
    const cfg = join(dir, 'steward.yaml');
    writeFileSync(cfg, ['connectors:', `  profiles: [${PROFILES}]`, '  sources:', '    - { name: farm, format: chirpstack-v4, mqtt: { url: "mqtt://127.0.0.1:1883" } }', '    - { name: ttn, format: the-things-stack-v3, webhook: {} }', '    - { name: x, format: lorawan-9000, mqtt: { url: "mqtt://h" } }', ''].join('\n'));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['node', 'steward', 'connect', 'check', '--config', cfg], { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('connectors.sources.1.webhook.secret: a secret of at least 16 characters is needed (or $STEWARD_CONNECTOR_TTN_SECRET)');
    expect(err.join('\n')).toContain('connectors.sources.2.format: unknown format "lorawan-9000"; one of chirpstack-v4, mqtt-json, the-things-stack-v3');
    const ok = checkConnectors(parseConfig({ connectors: { profiles: [PROFILES], sources: [{ name: 'farm', format: 'chirpstack-v4', mqtt: { url: 'mqtt://h' } }] } }));
    expect(ok.ok && ok.sources[0]!.mqtt).toMatchObject({ topics: ['application/+/device/+/event/up'], qos: 1, clientId: 'steward-connect-farm' });
  });
});

describe('registry: DevEUI links (steward sensors add --eui)', () => {
  it('normalises, re-links, refuses unknown sensors and bad EUIs, and forgets a removed sensor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-eui-'));
    const r = Registry.open(dir);
    try {
      await r.addSensor({ hub: 'demo', domain: 'water', sensor: 'a', password: 'pw-a-secret-1' });
      await r.addSensor({ hub: 'demo', domain: 'water', sensor: 'b', password: 'pw-b-secret-1' });
      r.setSensorEui('demo', 'a', '70:B3:D5:7E:D0:05:E1:F0');
      expect(r.sensorByEui('70b3d57ed005e1f0')?.sensor).toBe('a');
      r.setSensorEui('demo', 'b', '70B3D57ED005E1F0');
      expect(r.sensorByEui('70b3d57ed005e1f0')?.sensor).toBe('b');
      expect(() => r.setSensorEui('demo', 'nope', '70B3D57ED005E1F1')).toThrow('no sensor nope registered for hub demo');
      expect(() => r.setSensorEui('demo', 'a', '70B3D57ED005E1')).toThrow('must be 16 hexadecimal digits');
      r.removeSensor('demo', 'b');
      expect(r.sensorByEui('70b3d57ed005e1f0')).toBeUndefined();
    } finally {
      r.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('connector host in front of the durable intake', () => {
  let dir: string;
  let registry: Registry;
  let spool: Spool;
  let deadLetters: DeadLetterStore;
  let metrics: PipelineMetrics;
  let intake: Intake;
  let host: ConnectorHost;
  const t0 = Date.now() - 3_600_000;

  beforeEach(async () => {
    ({ dir, registry, deadLetters, metrics } = openIntakeParts('steward-connhost-'));
    await registry.addSensor({ hub: 'demo', domain: 'soil', sensor: 'soil-1', password: 'pw-soil-1-secret' });
    registry.setSensorEui('demo', 'soil-1', SOIL_EUI.toUpperCase());
  });
  afterEach(() => closeIntakeParts({ dir, intake, spool, deadLetters, registry }));

  const make = (maxBytes = 0, retryMs = 50): void => {
    spool = new Spool(dir, { maxBytes });
    intake = new Intake({ spool, deadLetters, registry, metrics, logger: silentLogger, config: { maxSkewMs: 300_000, maxPayloadBytes: 65_536, batchSize: 5000 }, retryMs });
    host = new ConnectorHost({ intake, registry, deadLetters, profiles: loadProfiles([PROFILES]), logger: silentLogger, metrics, dedupWindowMs: 300_000 });
  };
  const up = (fCnt: number, at: number, object: Record<string, unknown>, gateways = [GATEWAYS.A]): Decoded => chirpstack.fromWebhook!(chirpstackUp({ devEui: SOIL_EUI, deviceName: 'soil-north', deviceProfile: 'soil-probe', fCnt, time: new Date(at), object, gateways }), {}, {});
  const handle = (d: Decoded): Promise<Outcome> => new Promise((r) => host.handle(source, { topic: 'test', payload: Buffer.from('{}') }, d, r));
  const spooled = () => spool.take(1000).map((s) => s.reading);

  it('maps and converts units; acknowledges only once spooled; gateway data goes to metrics only', async () => {
    make();
    const o = await handle(up(3, t0, { moisture: 31.2, temperature: 11.4, battery_v: 3.6 }, [GATEWAYS.A, GATEWAYS.B]));
    expect(o).toEqual({ result: 'accepted', hub: 'demo', sensor: 'soil-1', ts: t0, seq: 3 });
    expect(spooled()).toEqual([{ hub: 'demo', domain: 'soil', sensor: 'soil-1', site: 'soil-1', kind: 'soil', ts: t0, seq: 3, metrics: { soil_moisture: 0.312, soil_temperature: 11.4 } }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain(`steward_connector_gateway_rssi_dbm{source="farm",gateway="${GATEWAYS.B.id}"} -112`);
    expect(JSON.stringify(spooled())).not.toContain(GATEWAYS.A.id);
    expect(host.reports()).toEqual([]);
  });

  it("a device's own position becomes the reading's location (for the privacy policy), never the gateways'", async () => {
    make();
    const f = join(dir, 'tracker.yaml');
    writeFileSync(f, ['name: tracker', 'match: { devices: [soil-north] }', 'location: { lat: gps.lat, lon: gps.lon }', 'fields:', '  moisture: { metric: soil_moisture, unit: "%" }', ''].join('\n'));
    host = new ConnectorHost({ intake, registry, deadLetters, profiles: loadProfiles([f, PROFILES]), logger: silentLogger, metrics, dedupWindowMs: 300_000 });
    await handle(up(4, t0, { moisture: 30, gps: { lat: 52.12345, lon: 5.54321 } }));
    expect(spooled()[0]).toMatchObject({ location: { lat: 52.12345, lon: 5.54321 }, metrics: { soil_moisture: 0.3 } });
    expect(host.reports()).toEqual([]);
  });

  it('an unknown device is dead-lettered with a reason naming its DevEUI and the command', async () => {
    make();
    const d = chirpstack.fromWebhook!(chirpstackUp({ devEui: '0000000000000bad', deviceName: 'stray', deviceProfile: 'soil-probe', fCnt: 1, time: new Date(t0), object: { moisture: 1 } }), {}, {});
    const o = await handle(d);
    expect(o).toMatchObject({ result: 'dead_letter', code: 'unregistered_sensor' });
    const [dl] = deadLetters.list();
    expect(dl?.reason).toBe('farm: device DevEUI 0000000000000bad "stray" is not registered as a Steward sensor (register it with: steward sensors add HUB DOMAIN SENSOR --eui 0000000000000bad)');
    expect(spooled()).toEqual([]);
  });

  it('a field that does not convert is dropped and reported once per profile, the rest is kept', async () => {
    make();
    for (let i = 0; i < 5; i++) await handle(up(10 + i, t0 + i * 60_000, { moisture: 30 + i, temperature: 'N/A', probe_state: 'ok' }));
    expect(spooled().map((r) => r.metrics)).toEqual([0.3, 0.31, 0.32, 0.33, 0.34].map((m) => ({ soil_moisture: m })));
    expect(host.reports().map((r) => [r.profile, r.field, r.problem])).toEqual([
      ['soil-probe', 'temperature', 'not_a_number'],
      ['soil-probe', 'probe_state', 'unmapped'],
    ]);
    expect(await metrics.registry.metrics()).toContain('steward_connector_field_issues_total{source="farm",profile="soil-probe",problem="not_a_number"} 5');
  });

  it('duplicates via two gateways share one timestamp; a frame-counter reset keeps its own', async () => {
    make();
    const a = await handle(up(5, t0, { moisture: 20 }, [GATEWAYS.A]));
    // The same frame through a second gateway, stamped 400 ms later by an undeduplicated path.
    const b = await handle(up(5, t0 + 400, { moisture: 20 }, [GATEWAYS.B]));
    expect(a).toMatchObject({ ts: t0, seq: 5 });
    expect(b).toMatchObject({ ts: t0, seq: 5 });
    // The device rejoins: its counter starts again at 0 and 5 comes round an hour later.
    const c = await handle(up(0, t0 + 3_000_000, { moisture: 21 }));
    const d = await handle(up(5, t0 + 3_300_000, { moisture: 22 }));
    expect([c, d]).toMatchObject([{ ts: t0 + 3_000_000, seq: 0 }, { ts: t0 + 3_300_000, seq: 5 }]);
    const keys = new Set(spooled().map((r) => `${r.sensor}@${r.ts}`));
    expect(keys.size).toBe(3);
  });

  it('webhook: 503 while the spool is full, 200 once the spool has the reading', async () => {
    make(65_536, 50);
    const cfg = parseConfig({ connectors: { profiles: [PROFILES], http: { host: '127.0.0.1', port: 0 }, webhookTimeoutMs: 500, sources: [{ name: 'farm', format: 'chirpstack-v4', webhook: { secret: 'webhook-secret-0123456789' } }] } });
    const checked = checkConnectors(cfg);
    if (!checked.ok) throw new Error(checked.errors.join('\n'));
    const conns = await startConnectors({ config: cfg.connectors, sources: checked.sources, profiles: checked.profiles, intake, registry, deadLetters, metrics, logger: silentLogger });
    try {
      const post = (fCnt: number, secret = 'webhook-secret-0123456789') =>
        fetch(`${conns.url}/api/v1/connect/farm?event=up`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-steward-secret': secret },
          body: JSON.stringify(chirpstackUp({ devEui: SOIL_EUI, deviceName: 'soil-north', deviceProfile: 'soil-probe', fCnt, time: new Date(t0 + fCnt * 1000), object: { moisture: 25 } })),
        });
      expect((await post(1, 'wrong-secret-0123456789')).status).toBe(401);
      expect((await post(1)).status).toBe(200);
      // Fill the spool to its quota (storage down for long), as the forwarder would find it.
      const filler = { hub: 'demo', domain: 'soil' as const, sensor: 'soil-1', site: 'soil-1', kind: 'soil', ts: t0, seq: 0, metrics: { soil_moisture: 0.2 } };
      let n = 0;
      for (const size of [50, 1]) {
        for (;;) {
          try {
            spool.append(Array.from({ length: size }, () => ({ ...filler, ts: t0 - 1 - n++ })));
          } catch {
            break;
          }
        }
      }
      // The intake cannot commit: the request gets 503 after webhookTimeoutMs; the next at once.
      const held = await post(2);
      expect(held.status).toBe(503);
      expect(intake.pressure()?.reason).toBe('spool_quota');
      const refused = await post(3);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('30');
      // Storage takes the backlog: the spool has room again and the intake resumes by itself.
      const all = spool.take(100_000);
      spool.remove(all[0]!.id, all.at(-1)!.id);
      await expect.poll(() => intake.pressure(), { timeout: 5000 }).toBeUndefined();
      // The network server sends 2 and 3 again: now 200, each once in the spool.
      expect((await post(2)).status).toBe(200);
      const r3 = await post(3);
      expect(r3.status).toBe(200);
      expect(await r3.json()).toMatchObject({ result: 'accepted', seq: 3, ts: t0 + 3000 });
      const left = spool.take(1000).map((s) => `${s.reading.seq}@${s.reading.ts}`);
      expect(new Set(left)).toEqual(new Set([`2@${t0 + 2000}`, `3@${t0 + 3000}`]));
    } finally {
      await conns.stop();
    }
  });

  it("a network server's broker down at start: the connectors run, /ready names the source, uplinks flow once it is up", async () => {
    make();
    const broker = await startMosquitto();
    broker.kill9();
    const cfg = parseConfig({ connectors: { profiles: [PROFILES], http: { host: '127.0.0.1', port: 0 }, sources: [{ name: 'farm', format: 'chirpstack-v4', mqtt: { url: broker.url } }] } });
    const checked = checkConnectors(cfg);
    if (!checked.ok) throw new Error(checked.errors.join('\n'));
    const conns = await startConnectors({ config: cfg.connectors, sources: checked.sources, profiles: checked.profiles, intake, registry, deadLetters, metrics, logger: silentLogger, subscribeTimeoutMs: 300 });
    try {
      const ready = await fetch(`${conns.url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { 'mqtt:farm': { ok: false, detail: 'not connected to the broker of source farm' } } });
      await broker.restart();
      await expect.poll(async () => (await fetch(`${conns.url}/ready`)).status, { timeout: 15_000 }).toBe(200);
      // Subscribed again on the fresh broker (it has no session of ours): an uplink is taken.
      await expect
        .poll(
          async () => {
            const ns = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
            await ns.publishAsync(chirpstackTopic(SOIL_EUI), JSON.stringify(chirpstackUp({ devEui: SOIL_EUI, deviceName: 'soil-north', deviceProfile: 'soil-probe', fCnt: 77, time: new Date(t0), object: { moisture: 27 } })), { qos: 1 });
            await ns.endAsync();
            return spooled().some((r) => r.seq === 77);
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe(true);
    } finally {
      await conns.stop();
      await broker.stop();
    }
  });
});
