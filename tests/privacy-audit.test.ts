/**
 * Scenario: the privacy audit. The demo fleet (households with meter ids and exact home
 * coordinates, citizens with names, emails and phone numbers in their notes) runs against the
 * all-in-one pipeline, once on the embedded store and once on a real InfluxDB. We watch the raw tier
 * as a service account to learn every personal value that entered, then read every output a
 * resident or a region can see — anonymous `public/#`, the public API, the steward API, the stored
 * data (InfluxDB queried directly, the embedded store's files byte for byte) and the logs — and
 * assert that none of those values appears anywhere, while the non-personal readings do.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.ts';
import { eventually } from './harness/devices.ts';
import { exactCoordinate, expectNoPersonalData } from './harness/privacy.ts';
import { freePort, startInfluxDB, type InfluxHandle } from './harness/services.ts';
import { spawnSteward, writeConfig, type StewardProcess } from './harness/steward.ts';

interface Collected {
  personal: Set<string>;
  rawMessages: number;
  publicMessages: Array<{ topic: string; payload: string }>;
}

/** Personal values in one raw payload, as the strings that must never appear downstream. */
function personalValues(payload: Record<string, unknown>): string[] {
  const out: string[] = [];
  const attrs = (payload.attributes ?? {}) as Record<string, unknown>;
  for (const k of ['observer_name', 'observer_email', 'observer_phone', 'household_id']) if (typeof attrs[k] === 'string') out.push(attrs[k] as string);
  if (typeof attrs.note === 'string') {
    for (const m of (attrs.note as string).match(/[\w.+-]+@[\w-]+(\.[\w-]+)+|\+?\d[\d ]{8,}\d/g) ?? []) out.push(m);
  }
  const loc = payload.location as { lat: number; lon: number } | undefined;
  const atHome = attrs.at_home === true || typeof attrs.observer_name === 'string' || typeof attrs.household_id === 'string';
  if (loc && atHome) out.push(exactCoordinate(loc.lat, 4), exactCoordinate(loc.lon, 4));
  return out;
}

const stores: Array<'embedded' | 'influxdb'> = ['embedded', 'influxdb'];

describe.each(stores)('privacy audit on the %s store', (storeKind) => {
  const dir = mkdtempSync(join(tmpdir(), `steward-audit-${storeKind}-`));
  let influx: InfluxHandle | undefined;
  let start: StewardProcess | undefined;
  let sim: StewardProcess | undefined;
  afterAll(async () => {
    await sim?.stop();
    await start?.stop();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets no observer, household, home or contact detail reach any output, and publishes the open data', async () => {
    const [mqttPort, wsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    if (storeKind === 'influxdb') influx = await startInfluxDB({ database: 'steward' });
    const configPath = writeConfig(dir, {
      dataDir: join(dir, 'data'),
      mqtt: { host: '127.0.0.1', port: mqttPort, wsPort, allowAnonymousPublic: true },
      http: { host: '127.0.0.1', port: httpPort },
      simulators: { brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, warmupHours: 48, intervalS: 2 },
      ingest: { flushIntervalMs: 100 },
      ...(influx ? { storage: { influx: { url: influx.url, database: 'steward' } } } : {}),
    });
    const registry = Registry.open(join(dir, 'data'));
    const audit = await registry.addAccount({ name: 'auditor', role: 'service', password: 'auditor-password' });
    registry.close();
    const env = { STEWARD_LOG_LEVEL: 'info' };
    start = spawnSteward(['start', '--no-sim', '--config', configPath], { env });
    await start.waitFor(/Latest readings/);
    const api = `http://127.0.0.1:${httpPort}`;
    const url = `mqtt://127.0.0.1:${mqttPort}`;

    const c: Collected = { personal: new Set(), rawMessages: 0, publicMessages: [] };
    const raw = await mqtt.connectAsync(url, { username: 'auditor', password: audit.password, clientId: 'auditor-raw' });
    await raw.subscribeAsync('csm/v1/+/+/+/data', { qos: 1 });
    raw.on('message', (_t, p) => {
      c.rawMessages++;
      for (const v of personalValues(JSON.parse(p.toString()))) c.personal.add(v);
    });
    const anon = await mqtt.connectAsync(url, { clientId: `anon-${storeKind}`, clean: true });
    const granted = await anon.subscribeAsync('public/#', { qos: 0 });
    expect(granted[0]?.qos).not.toBe(128);
    anon.on('message', (topic, p) => c.publicMessages.push({ topic, payload: p.toString() }));

    sim = spawnSteward(['sim', '--config', configPath], { env });
    // Enough raw traffic that every kind of personal value has entered the pipeline.
    await eventually(() => [...c.personal].some((v) => v.includes('@')) && [...c.personal].some((v) => v.startsWith('hh-')) && c.rawMessages > 500, 90_000, 500);
    await sim.stop('SIGINT');
    await raw.endAsync();
    // Let ingest drain the spool into storage.
    await eventually(async () => /steward_spool_depth 0\b/.test(await (await fetch(`${api}/metrics`)).text()), 30_000, 250);
    await new Promise((r) => setTimeout(r, 500));
    const known = [...c.personal];
    expect(known.length).toBeGreaterThan(10);

    // 1. Anonymous public MQTT: open data arrives, nothing personal.
    expect(c.publicMessages.length).toBeGreaterThan(50);
    expect(c.publicMessages.some((m) => m.topic.startsWith('public/v1/demo/water/'))).toBe(true);
    expectNoPersonalData(c.publicMessages, known, 'public/# messages');
    // Anonymous clients cannot read the raw tier.
    await expect(anon.subscribeAsync('csm/#', { qos: 0 })).rejects.toThrow(/Subscribe error/);
    await anon.endAsync();

    // 2. Public API and steward API.
    const get = async (path: string): Promise<unknown> => {
      const r = await fetch(api + path);
      expect(r.status, path).toBe(200);
      return r.json();
    };
    const publicLatest = (await get('/api/v1/public/readings/latest?hub=demo')) as { readings: Array<{ domain: string }> };
    expect(new Set(publicLatest.readings.map((r) => r.domain))).toEqual(new Set(['water', 'soil', 'energy', 'biodiversity']));
    const outputs: Array<[string, unknown]> = [
      ['public latest', publicLatest],
      ['policy', await get('/api/v1/privacy/policy')],
      ['latest', await get('/api/v1/readings/latest')],
      ['sensors', await get('/api/v1/sensors')],
    ];
    for (const s of ['citizens', 'hh-north-1', 'hh-north-2', 'hh-south-1']) {
      const r = await fetch(`${api}/api/v1/public/readings?sensor=${s}&metric=count&from=0`);
      outputs.push([`public readings ${s}`, await r.text()]);
    }
    for (const [label, body] of outputs) expectNoPersonalData(body, known, label);

    // 3. Stored data, read directly.
    if (influx) {
      for (const m of ['water', 'soil', 'energy', 'biodiversity', 'pipeline']) {
        const rows = await influx.queryRows(`SELECT * FROM "${m}"`);
        if (m !== 'pipeline') expect(rows.length, m).toBeGreaterThan(0);
        expectNoPersonalData(rows, known, `InfluxDB ${m}`);
      }
      const tags = await influx.query('SHOW TAG VALUES WITH KEY IN ("sensor", "site", "kind")');
      expectNoPersonalData(tags, known, 'InfluxDB tag values');
    } else {
      const data = join(dir, 'data');
      for (const f of readdirSync(data).filter((f) => /^store\.db/.test(f))) expectNoPersonalData(readFileSync(join(data, f)), known, f);
    }

    // 4. Logs of both processes.
    await start.stop();
    expectNoPersonalData(start.output(), known, 'steward start logs');
    expectNoPersonalData(sim.output(), known, 'steward sim logs');
  });
});
