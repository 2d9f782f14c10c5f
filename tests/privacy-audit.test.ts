/**
 * Scenario: the privacy audit. The demo fleet (households with meter ids and exact home
 * coordinates, citizens with names, emails and phone numbers in their notes) runs against the
 * all-in-one pipeline, once on the embedded store and once on a real InfluxDB, with a regional
 * upstream broker (a real Mosquitto). Devices of an adversary add what the simulators never send:
 * notes (opted in by the hub's policy, so they are published scrubbed) with a street address and
 * postcode, a third person's name, names of an observer and an account holder the hub knows in
 * lower case and decomposed Unicode, coordinates in degrees-minutes-seconds and decimal minutes;
 * a citizen observation without observer attributes; a payload whose `site` is an address.
 *
 * We watch the raw tier as a service account to learn every personal value that entered, then read
 * every output a resident or a region can see — anonymous MQTT (every topic it may subscribe to),
 * the upstream broker, every route of the OpenAPI document without a token (the console's
 * included), the console's live stream, the stored data (InfluxDB queried directly, the embedded
 * store's files byte for byte) and the logs — and assert that none of those values appears
 * anywhere, while the non-personal readings do.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH } from '../privacy/index.ts';
import { Registry } from '../registry/registry.ts';
import { eventually } from './harness/devices.ts';
import { exactCoordinate, expectNoPersonalData } from './harness/privacy.ts';
import { freePort, startInfluxDB, startMosquitto, type InfluxHandle, type MosquittoHandle } from './harness/services.ts';
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

/** Where the adversary's citizen stands: far from the demo hub, so its digits are distinctive. */
const CITIZEN = { lat: 57.1234, lon: -4.5678 };
/**
 * The adversary's note, in decomposed Unicode (NFD): an address and postcode, a third person, an
 * observer the hub learnt of (Éloïse Marchetti) and an account holder (margit-oyelaran) in lower
 * case, coordinates of an orchid site in DMS and in degrees and decimal minutes, a phone number.
 */
const NOTE = [
  "Recorded in Tom Baker's garden at 12 Mill Lane, Oxford OX4 1AB, for eloise marchetti and margit oyelaran.",
  'Orchids at 51°45′12″N 1°15′27″W, or N 51° 45.201′ W 001° 15.450′; ring 07700 900461. Zoë Kowalczyk saw it too.',
].join(' ').normalize('NFD');
/** What must not survive of it (and of the spoofed ids), in any output. */
const ADVERSARY_PERSONAL = ['Baker', 'Mill Lane', 'OX4 1AB', 'Marchetti', 'Oyelaran', 'Kowalczyk', '51°45', '45.201', '15.450', '900461', 'mill-lane', 'jane-doe', '57.1234', '-4.5678', '57.125', '-4.565'];

describe.each(stores)('privacy audit on the %s store', (storeKind) => {
  const dir = mkdtempSync(join(tmpdir(), `steward-audit-${storeKind}-`));
  let influx: InfluxHandle | undefined;
  let region: MosquittoHandle | undefined;
  let start: StewardProcess | undefined;
  let sim: StewardProcess | undefined;
  afterAll(async () => {
    await sim?.stop();
    await start?.stop();
    await influx?.stop();
    await region?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets no observer, household, home or contact detail reach any output, and publishes the open data', async () => {
    const [mqttPort, wsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    if (storeKind === 'influxdb') influx = await startInfluxDB({ database: 'steward' });
    region = await startMosquitto();
    // The hub opts notes in: they are published scrubbed (the shipped policy keeps them raw).
    const policyPath = join(dir, 'policy.yaml');
    const shipped = readFileSync(DEFAULT_POLICY_PATH, 'utf8');
    expect(shipped).toContain('  note: drop\n');
    writeFileSync(policyPath, shipped.replace('  note: drop\n', '  note: scrub\n').replace(/^version: .*$/m, 'version: audit-notes-1'));
    const configPath = writeConfig(dir, {
      dataDir: join(dir, 'data'),
      mqtt: { host: '127.0.0.1', port: mqttPort, wsPort, allowAnonymousPublic: true },
      http: { host: '127.0.0.1', port: httpPort },
      simulators: { brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, warmupHours: 48, intervalS: 2 },
      ingest: { flushIntervalMs: 100 },
      privacy: { policyFile: policyPath, upstream: { url: region.url, clientId: `hub-${storeKind}`, topicPrefix: 'region/v1' } },
      ...(influx ? { storage: { influx: { url: influx.url, database: 'steward' } } } : {}),
    });
    const registry = Registry.open(join(dir, 'data'));
    const audit = await registry.addAccount({ name: 'auditor', role: 'service', password: 'auditor-password' });
    // An account holder whose name the scrubber must know.
    await registry.addAccount({ name: 'margit-oyelaran', role: 'hub', hub: 'demo', password: 'margit-password-1' });
    // The adversary's devices, registered as a hub would.
    const device = async (domain: string, sensor: string, site: string, kind: string): Promise<{ username: string; password: string }> => {
      const r = await registry.addSensor({ hub: 'demo', domain, sensor, site, kind, password: `${sensor}-password-1` });
      return { username: r.entry.username, password: r.password };
    };
    const citizenX = await device('biodiversity', 'citizen-x', 'community-x', 'citizen-observation');
    const gardenMic = await device('biodiversity', 'garden-mic', 'garden-mic', 'acoustic-monitor');
    const spoofer = await device('water', 'spoofer', 'spoofer', 'water');
    registry.close();
    const env = { STEWARD_LOG_LEVEL: 'info' };
    start = spawnSteward(['start', '--no-sim', '--config', configPath], { env });
    await start.waitFor(/Latest readings/);
    const api = `http://127.0.0.1:${httpPort}`;
    const url = `mqtt://127.0.0.1:${mqttPort}`;

    const c: Collected = { personal: new Set(ADVERSARY_PERSONAL), rawMessages: 0, publicMessages: [] };
    // The regional broker: everything the hub sends upstream.
    const regionMessages: Array<{ topic: string; payload: string }> = [];
    const regional = await mqtt.connectAsync(region.url, { clientId: `region-audit-${storeKind}` });
    await regional.subscribeAsync('#', { qos: 1 });
    regional.on('message', (topic, p) => regionMessages.push({ topic, payload: p.toString() }));
    // The console's live stream, without a token, for the whole run.
    const stream = new AbortController();
    let streamText = '';
    const streamDone = fetch(`${api}/api/v1/stream`, { signal: stream.signal })
      .then(async (res) => {
        expect(res.status).toBe(200);
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) streamText += decoder.decode(chunk, { stream: true });
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') throw e;
      });
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
    // Every other topic an anonymous client may read (whatever the broker grants for `#`).
    const anonAll = await mqtt.connectAsync(url, { clientId: `anon-all-${storeKind}`, clean: true });
    const anyMessages: Array<{ topic: string; payload: string }> = [];
    await anonAll.subscribeAsync('#', { qos: 0 }).catch(() => undefined);
    anonAll.on('message', (topic, p) => anyMessages.push({ topic, payload: p.toString() }));

    sim = spawnSteward(['sim', '--config', configPath], { env });

    // The adversary: a citizen the hub learns the name of, then one without any observer attribute;
    // a garden recorder whose note names people and places; a device choosing its own site id.
    const send = async (creds: { username: string; password: string }, domain: string, payloads: unknown[]): Promise<void> => {
      const client = await mqtt.connectAsync(url, { ...creds, clientId: creds.username });
      for (const p of payloads) await client.publishAsync(`csm/v1/demo/${domain}/${creds.username.split('.')[1]}/data`, JSON.stringify(p), { qos: 1 });
      await client.endAsync();
    };
    const now = Date.now();
    await send(citizenX, 'biodiversity', [
      { ts: now - 5000, seq: 1, species: 'Erithacus rubecula', metrics: { count: 1 }, location: CITIZEN, attributes: { observer_name: 'Éloïse Marchetti'.normalize('NFD') } },
      { ts: now - 4000, seq: 2, species: 'Erithacus rubecula', metrics: { count: 2 }, location: CITIZEN },
    ]);
    await send(gardenMic, 'biodiversity', [{ ts: now - 3000, seq: 1, species: 'Turdus merula', metrics: { count: 1, confidence: 0.9 }, attributes: { method: 'acoustic', note: NOTE } }]);
    await send(spoofer, 'water', [
      { ts: now - 2000, seq: 1, site: '12-mill-lane-ox4-1ab', metrics: { ph: 7.1 } },
      { ts: now - 1000, seq: 2, kind: 'jane-doe-home', metrics: { ph: 7.2 } },
    ]);
    // Enough raw traffic that every kind of personal value has entered the pipeline.
    await eventually(() => [...c.personal].some((v) => v.includes('@')) && [...c.personal].some((v) => v.startsWith('hh-')) && c.rawMessages > 500, 90_000, 500);
    await sim.stop('SIGINT');
    await raw.endAsync();
    // Let ingest drain the spool into storage.
    await eventually(async () => /steward_spool_depth 0\b/.test(await (await fetch(`${api}/metrics`)).text()), 30_000, 250);
    await new Promise((r) => setTimeout(r, 500));
    const known = [...c.personal];
    expect(known.length).toBeGreaterThan(10);

    // 0. The adversary's data went where it should: the spoofed ids refused with their code; the
    // citizen without observer attributes on the personal grid; the note published, scrubbed.
    const metricsText = await (await fetch(`${api}/metrics`)).text();
    expect(metricsText).toMatch(/steward_readings_rejected_total\{code="unregistered_id"\} 2\b/);
    for (const kind of ['name', 'address', 'postcode', 'coordinates', 'phone']) expect(metricsText).toMatch(new RegExp(`steward_privacy_scrubbed_total\\{kind="${kind}"\\} [1-9]`));
    await eventually(() => c.publicMessages.some((m) => m.topic === 'public/v1/demo/biodiversity/garden-mic'), 10_000, 100);
    const mic = JSON.parse(c.publicMessages.find((m) => m.topic === 'public/v1/demo/biodiversity/garden-mic')!.payload) as { attributes: { note: string } };
    expect(mic.attributes.note).toContain('[name removed]');
    expect(mic.attributes.note).toContain('[address removed]');
    const citizen = c.publicMessages.filter((m) => m.topic === 'public/v1/demo/biodiversity/citizen-x').map((m) => JSON.parse(m.payload) as { location?: { lat: number; lon: number } });
    expect(citizen.length).toBeGreaterThan(0);
    for (const r of citizen) expect(r.location).toEqual({ lat: 57.15, lon: -4.55 });

    // 1. Anonymous public MQTT: open data arrives, nothing personal.
    expect(c.publicMessages.length).toBeGreaterThan(50);
    expect(c.publicMessages.some((m) => m.topic.startsWith('public/v1/demo/water/'))).toBe(true);
    expectNoPersonalData(c.publicMessages, known, 'public/# messages');
    // Anonymous clients cannot read the raw tier.
    await expect(anon.subscribeAsync('csm/#', { qos: 0 })).rejects.toThrow(/Subscribe error/);
    await anon.endAsync();
    await anonAll.endAsync();
    expectNoPersonalData(anyMessages, known, 'anonymous # messages');
    expect(anyMessages.every((m) => m.topic.startsWith('public/'))).toBe(true);

    // 1b. The regional upstream broker.
    await eventually(() => regionMessages.some((m) => m.topic === 'region/v1/demo/biodiversity/garden-mic'), 15_000, 100);
    expect(regionMessages.length).toBeGreaterThan(50);
    expectNoPersonalData(regionMessages, known, 'upstream broker');
    await regional.endAsync();

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
    for (const s of ['citizens', 'hh-north-1', 'hh-north-2', 'hh-south-1', 'citizen-x', 'garden-mic', 'citizen-1']) {
      for (const base of ['/api/v1/public/readings', '/api/v1/readings']) {
        const r = await fetch(`${api}${base}?sensor=${s}&metric=count&from=0`);
        outputs.push([`${base} ${s}`, await r.text()]);
      }
    }
    for (const [label, body] of outputs) expectNoPersonalData(body, known, label);

    // Every route of the OpenAPI document that answers without a token (the console's included),
    // its required query parameters filled in.
    const doc = (await get('/openapi.json')) as { paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean }> }>> };
    const fill: Record<string, string> = { sensor: 'garden-mic', metric: 'count', hub: 'demo' };
    const checked: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!ops.get || path === '/api/v1/stream') continue; // the stream is read for the whole run above
      const query = (ops.get.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${encodeURIComponent(fill[p.name] ?? '')}`);
      const concrete = path.replace(/\{[^}]+\}/g, 'garden-mic');
      const res = await fetch(`${api}${concrete}${query.length ? `?${query.join('&')}` : ''}`);
      if (res.status === 401 || res.status === 403) continue; // needs a token: not public
      const body = await res.text();
      expect(res.status, `${path}: ${body.slice(0, 200)}`).toBeLessThan(500);
      expectNoPersonalData(body, known, `GET ${path}`);
      checked.push(path);
    }
    for (const p of ['/api/v1/console/config', '/api/v1/console/session', '/api/v1/console/biodiversity', '/api/v1/public/readings/latest', '/api/v1/readings/latest', '/api/v1/sensors', '/api/v1/privacy/policy', '/metrics'])
      expect(checked).toContain(p);
    const page = await fetch(`${api}/`);
    expectNoPersonalData(await page.text(), known, 'console page');

    // The console's live stream carried readings (the adversary's among them), nothing personal.
    stream.abort();
    await streamDone;
    expect(streamText).toContain('event: reading');
    expect(streamText).toContain('citizen-x');
    expectNoPersonalData(streamText, known, 'console stream');

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
