/**
 * Scenario: the console served by the real API (buildApp with the embedded store, registry and
 * tokens of api/testing.ts, given the console's service) and listening on a loopback port. A
 * browser's EventSource is played by a plain HTTP client reading the stream as it arrives: it
 * gets the hello, readings as storage takes them (personal metrics never), alert changes and
 * heartbeats; leaving unsubscribes it; the API closing ends every stream at once. The page and its assets are served with the right headers.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamOptions } from '../api/app.ts';
import { EventStreamParser, formatComment, formatEvent, formatRetry, type ParsedEvent } from '../api/routes/console/sse.ts';
import { makeTestApi, TOKENS, type TestApi } from '../api/testing.ts';
import { buildConsole, needsBuild } from '../console/build.ts';
import { createLiveFeed, type LiveFeed } from '../console/live.ts';
import { type ConsoleServiceOptions, createConsoleService, SpeciesTally, toLiveReadings } from '../console/service.ts';
import { thresholdsFromRulesDir } from '../rules/thresholds.ts';
import { DEFAULT_RULES_DIR } from '../rules/check.ts';
import type { AlertEvent } from '../rules/alert.ts';

let distDir: string;

beforeAll(async () => {
  distDir = mkdtempSync(join(tmpdir(), 'steward-console-dist-'));
  await buildConsole({ outDir: distDir });
});

afterAll(() => rmSync(distDir, { recursive: true, force: true }));

/** Options of the console's service and of its event stream. */
type ConsoleOptions = ConsoleServiceOptions & StreamOptions;

/** An API serving the console (its service over `live`), listening on a free port. */
async function startApi(live: LiveFeed, opts: ConsoleOptions = {}): Promise<{ api: TestApi; url: string }> {
  const { heartbeatMs, flushMs = 20, retryMs, maxClients, maxBufferedBytes, maxQueuedReadings, ...service } = opts;
  const stream = Object.fromEntries(Object.entries({ heartbeatMs, flushMs, retryMs, maxClients, maxBufferedBytes, maxQueuedReadings }).filter(([, v]) => v !== undefined));
  const consoleService = createConsoleService({ feed: live, distDir, build: 'never', ...service });
  const api = await makeTestApi({ extra: { services: { console: consoleService }, stream } });
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = api.app.server.address();
  return { api, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

/** Reads an event stream as EventSource would: events, comments, the end. */
interface StreamReader {
  res: IncomingMessage;
  events: ParsedEvent[];
  parser: EventStreamParser;
  ended: Promise<void>;
  next(name: string, ms?: number): Promise<ParsedEvent>;
  waitFor(cond: () => boolean, ms?: number): Promise<void>;
  close(): void;
}

function openStream(url: string): Promise<StreamReader> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/api/v1/stream`, { headers: { accept: 'text/event-stream' } }, (res) => {
      const parser = new EventStreamParser();
      const events: ParsedEvent[] = [];
      let seen = 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => events.push(...parser.push(chunk)));
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      const waitFor = async (cond: () => boolean, ms = 5000): Promise<void> => {
        const until = Date.now() + ms;
        while (!cond()) {
          if (Date.now() > until) throw new Error(`stream: condition not met within ${ms} ms; events: ${JSON.stringify(events).slice(0, 500)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      resolve({
        res,
        events,
        parser,
        ended,
        waitFor,
        async next(name, ms = 5000) {
          await waitFor(() => events.slice(seen).some((e) => e.event === name), ms);
          const i = events.findIndex((e, k) => k >= seen && e.event === name);
          seen = i + 1;
          return events[i] as ParsedEvent;
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

function alertEvent(to: 'firing' | 'resolved', at = Date.now()): AlertEvent {
  return {
    at,
    event: 'transition',
    from: to === 'firing' ? 'pending' : 'firing',
    to,
    alert: {
      id: 'demo.battery-low.battery-1',
      hub: 'demo',
      rule: 'battery-low',
      subject: 'battery-1',
      scope: 'sensor',
      kind: 'threshold',
      severity: 'critical',
      state: to,
      episode: 1,
      message: 'Battery charge at battery-1 (demo) is 8 %, below 10 %',
      summary: 'Battery charge at battery-1 (demo) is 8 %, below 10 %',
      value: 8,
      unit: '%',
      facts: { metric: 'battery_soc' },
      labels: {},
      activeAt: new Date(at).toISOString(),
      firedAt: new Date(at).toISOString(),
      resolvedAt: to === 'resolved' ? new Date(at).toISOString() : null,
      updatedAt: new Date(at).toISOString(),
      acknowledged: null,
      silencedBy: [],
    },
  };
}

describe('SSE framing', () => {
  it('frames an event as event/data lines ended by a blank line, one data line whatever the JSON holds', () => {
    const text = formatEvent('reading', { note: 'two\nlines', n: 1 });
    expect(text).toBe('event: reading\ndata: {"note":"two\\nlines","n":1}\n\n');
    expect(formatComment('heartbeat\nx')).toBe(': heartbeat x\n\n');
    expect(formatRetry(2000)).toBe('retry: 2000\n\n');
    expect(() => formatEvent('bad\nname', {})).toThrow(TypeError);
    expect(() => formatEvent('a:b', {})).toThrow(TypeError);
  });

  it('a client parser reassembles events split across chunks anywhere', () => {
    const stream = formatRetry(1500) + formatEvent('hello', { a: 1 }) + formatComment('hb') + formatEvent('alert', { b: 'ü' }, '7');
    for (let cut = 1; cut < stream.length; cut += 7) {
      const p = new EventStreamParser();
      const got = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))];
      expect(got).toEqual([
        { event: 'hello', data: '{"a":1}' },
        { event: 'alert', data: '{"b":"ü"}', id: '7' },
      ]);
      expect(p.retry).toBe(1500);
      expect(p.comments).toEqual(['hb']);
    }
  });
});

describe('readings on the stream', () => {
  it('are one entry per metric with its canonical unit; personal and unknown metrics and attributes never leave', () => {
    const out = toLiveReadings([
      { hub: 'demo', domain: 'energy', sensor: 'meter-01', site: 'north', kind: 'household-meter', ts: 1000, metrics: { household_power: 500 } },
      { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'wellfield', kind: 'groundwater', ts: 2000, metrics: { groundwater_level: 40.1, withdrawal: 12, bogus: 1 } },
      { hub: 'demo', domain: 'biodiversity', sensor: 'am-1', site: 'mire', kind: 'acoustic', ts: 3000, metrics: { count: 2 }, species: 'Turdus merula', ...({ attributes: { observer_name: 'Ann' } } as object) },
    ]);
    expect(out).toEqual([
      { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'wellfield', kind: 'groundwater', metric: 'groundwater_level', value: 40.1, unit: 'm', ts: 2000, time: '1970-01-01T00:00:02.000Z' },
      { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'wellfield', kind: 'groundwater', metric: 'withdrawal', value: 12, unit: 'm3', ts: 2000, time: '1970-01-01T00:00:02.000Z' },
      { hub: 'demo', domain: 'biodiversity', sensor: 'am-1', site: 'mire', kind: 'acoustic', metric: 'count', value: 2, unit: 'count', ts: 3000, time: '1970-01-01T00:00:03.000Z', species: 'Turdus merula' },
    ]);
    expect(JSON.stringify(out)).not.toContain('Ann');
  });

  it('species richness per site counts distinct species in the 24 h before the newest detection', () => {
    const t = new SpeciesTally({ now: 0 });
    const H = 3_600_000;
    const det = (ts: number, species: string, site = 'mire', count = 1) => ({ hub: 'demo', domain: 'biodiversity' as const, sensor: 'am-1', site, kind: 'acoustic', ts, metrics: { count }, species });
    t.add([det(0, 'a'), det(1 * H, 'b'), det(30 * H, 'c', 'mire', 3), det(31 * H, 'c'), det(32 * H, 'd'), det(32 * H, 'x', 'oakwood')]);
    t.add([{ hub: 'demo', domain: 'water', sensor: 'w', site: 'mire', kind: 'gw', ts: 33 * H, metrics: { groundwater_level: 1 } }]);
    const [mire, oak] = t.summary('demo');
    expect(mire).toMatchObject({ site: 'mire', richness24h: 2, richness7d: 4, detections24h: 5, top: [{ species: 'c', count: 4 }, { species: 'd', count: 1 }] });
    expect(oak).toMatchObject({ site: 'oakwood', richness24h: 1 });
    expect(t.summary('other')).toEqual([]);
  });
});

describe('thresholds from the rules', () => {
  it('the default rules give the stocks their limits: aquifer floor, battery reserve, river and soil moisture, soil carbon rate', () => {
    const t = thresholdsFromRulesDir(DEFAULT_RULES_DIR);
    const by = (rule: string) => t.find((x) => x.rule === rule);
    expect(by('aquifer-depletion')).toMatchObject({ metric: 'groundwater_level', direction: 'below', value: 39, kind: 'floor', severity: 'critical', hubs: ['demo'] });
    expect(by('battery-low')).toMatchObject({ metric: 'battery_soc', direction: 'below', value: 10, clearAt: 20, kind: 'threshold' });
    expect(by('river-stage-low')).toMatchObject({ metric: 'river_stage', value: 0.2, kind: 'threshold' });
    expect(by('soil-moisture-low')).toMatchObject({ metric: 'soil_moisture', value: 0.125 });
    expect(by('soil-carbon-decline')).toMatchObject({ metric: 'soil_organic_carbon', kind: 'rate', value: -0.5, perMs: 365 * 86_400_000 });
    expect(thresholdsFromRulesDir(join(DEFAULT_RULES_DIR, '..', 'testdata', 'unknown-field.bad.yaml'))).toEqual([]);
  });
});

describe('the console on the API', () => {
  const closers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function setup(deps: ConsoleOptions = {}): Promise<{ live: LiveFeed; api: TestApi; url: string }> {
    const live = createLiveFeed();
    const { api, url } = await startApi(live, deps);
    closers.push(() => api.close());
    return { live, api, url };
  }

  it('a stream opens with the reconnection delay and a hello, then carries readings and alerts as they happen', async () => {
    const { live, url } = await setup({ retryMs: 1500 });
    const s = await openStream(url);
    closers.push(() => s.close());
    expect(s.res.statusCode).toBe(200);
    expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(s.res.headers['cache-control']).toContain('no-cache');
    const hello = await s.next('hello');
    expect(JSON.parse(hello.data)).toMatchObject({ heartbeatMs: 15_000 });
    expect(s.parser.retry).toBe(1500);

    live.publishReadings([{ hub: 'demo', domain: 'energy', sensor: 'battery-1', site: 'hub', kind: 'battery', ts: 1_700_000_000_000, metrics: { battery_soc: 42.5, battery_energy: 8000 } }]);
    live.publishReadings([{ hub: 'demo', domain: 'energy', sensor: 'meter-01', site: 'north', kind: 'household-meter', ts: 1_700_000_000_000, metrics: { household_power: 812 } }]);
    const reading = JSON.parse((await s.next('reading')).data) as { readings: Array<Record<string, unknown>> };
    expect(reading.readings.map((r) => [r.sensor, r.metric, r.value, r.unit, r.time])).toEqual([
      ['battery-1', 'battery_soc', 42.5, '%', '2023-11-14T22:13:20.000Z'],
      ['battery-1', 'battery_energy', 8000, 'Wh', '2023-11-14T22:13:20.000Z'],
    ]);
    expect(JSON.stringify(s.events)).not.toContain('household_power');

    live.publishAlerts([alertEvent('firing')]);
    const alert = JSON.parse((await s.next('alert')).data) as { event: string; to: string; alert: { id: string; state: string } };
    expect(alert).toMatchObject({ event: 'transition', to: 'firing', alert: { id: 'demo.battery-low.battery-1', state: 'firing' } });

    // The stream needs no token: a steward's acknowledgement comment reaches it only scrubbed.
    const acked = alertEvent('firing');
    acked.alert.acknowledged = { by: 'ana', at: new Date(acked.at).toISOString(), comment: 'Mrs Green at 12 Mill Lane says the inverter tripped; ring 07700 900461' };
    live.publishAlerts([acked]);
    const ack = JSON.parse((await s.next('alert')).data) as { alert: { acknowledged: { by: string; comment: string } } };
    expect(ack.alert.acknowledged.by).toBe('ana');
    expect(ack.alert.acknowledged.comment).toContain('[address removed]');
    for (const secret of ['Green', 'Mill Lane', '900461']) expect(ack.alert.acknowledged.comment).not.toContain(secret);
  });

  it('readings published within one flush interval arrive as one event', async () => {
    const { live, url } = await setup({ flushMs: 200 });
    const s = await openStream(url);
    closers.push(() => s.close());
    await s.next('hello');
    for (let i = 0; i < 5; i++) live.publishReadings([{ hub: 'demo', domain: 'water', sensor: 'river-1', site: 'beck', kind: 'river', ts: 1000 + i, metrics: { river_stage: 0.3 + i / 100 } }]);
    const ev = JSON.parse((await s.next('reading')).data) as { readings: unknown[] };
    expect(ev.readings).toHaveLength(5);
  });

  it('heartbeat comments keep an idle stream alive', async () => {
    const { url } = await setup({ heartbeatMs: 60 });
    const s = await openStream(url);
    closers.push(() => s.close());
    await s.waitFor(() => s.parser.comments.filter((c) => c.startsWith('heartbeat ')).length >= 3, 3000);
    const times = s.parser.comments.map((c) => Date.parse(c.slice('heartbeat '.length)));
    expect(times.every((t) => Number.isFinite(t))).toBe(true);
  });

  it('a client that leaves is unsubscribed from the feed; the API closing ends every open stream at once', async () => {
    const { live, api, url } = await setup();
    const base = live.listenerCount(); // the species tally's own subscription
    const a = await openStream(url);
    const b = await openStream(url);
    await a.next('hello');
    await b.next('hello');
    expect(live.listenerCount()).toEqual({ readings: base.readings + 2, alerts: base.alerts + 2 });
    a.close();
    await a.ended;
    await b.waitFor(() => live.listenerCount().readings === base.readings + 1);
    expect(live.listenerCount()).toEqual({ readings: base.readings + 1, alerts: base.alerts + 1 });
    const t0 = Date.now();
    await api.app.close();
    await b.ended;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(live.listenerCount()).toEqual({ readings: 0, alerts: 0 });
  });

  it('a client that stops reading is cut off once too far behind, instead of buffering without bound', async () => {
    const { live, url } = await setup({ maxBufferedBytes: 256 * 1024, flushMs: 5 });
    const s = await openStream(url);
    closers.push(() => s.close());
    await s.next('hello');
    s.res.pause(); // a stalled tab: the socket buffers fill, then the server's
    const batch = Array.from({ length: 1000 }, (_, i) => ({ hub: 'demo', domain: 'water' as const, sensor: `well-${i}`, site: 'wellfield', kind: 'groundwater', ts: 1000 + i, metrics: { groundwater_level: 40 + i / 1000 } }));
    let closed = false;
    void s.ended.then(() => (closed = true));
    const base = live.listenerCount().readings - 1;
    for (let i = 0; i < 400 && live.listenerCount().readings > base; i++) {
      live.publishReadings(batch.map((r) => ({ ...r, ts: r.ts + i * 10_000 })));
      await new Promise((r) => setTimeout(r, 6));
    }
    // The server gave up on it: unsubscribed, its buffers dropped and the connection closed.
    expect(live.listenerCount().readings).toBe(base);
    s.res.resume();
    await s.ended;
    expect(closed).toBe(true);
    expect(s.res.complete).toBe(false); // cut, not a clean end of the stream
  });

  it('refuses streams beyond maxClients with 503 and the API error shape', async () => {
    const { url } = await setup({ maxClients: 1 });
    const a = await openStream(url);
    closers.push(() => a.close());
    await a.next('hello');
    const res = await fetch(`${url}/api/v1/stream`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('10');
    expect(await res.json()).toMatchObject({ code: 'API_ERR_UNAVAILABLE' });
  });

  it('serves the page with a strict CSP and its hashed assets with a long cache', async () => {
    const { url } = await setup();
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const script = /<script type="module" src="(\/assets\/app-[A-Z0-9]+\.js)"><\/script>/.exec(html)?.[1];
    const style = /<link rel="stylesheet" href="(\/assets\/app-[A-Z0-9]+\.css)">/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    expect(html).not.toMatch(/https?:\/\//); // no CDN: everything from this server
    const js = await fetch(`${url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await js.text()).length).toBeGreaterThan(10_000);
    const css = await fetch(`${url}${style}`);
    expect(await css.text()).toContain('.uplot');
    expect((await fetch(`${url}/assets/favicon.svg`)).status).toBe(200);
    const missing = await fetch(`${url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    // The static routes stay out of the API description.
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/stream', '/api/v1/console/config']));
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/assets'))).toBe(false);
  });

  it('says what it serves and whose token it holds', async () => {
    const { url } = await setup({ thresholds: thresholdsFromRulesDir(DEFAULT_RULES_DIR) });
    const cfg = (await (await fetch(`${url}/api/v1/console/config`)).json()) as { features: Record<string, boolean>; thresholds: Array<{ rule: string }>; stream: { url: string } };
    // This API mounts neither the privacy nor the rules routes.
    expect(cfg.features).toEqual({ openData: false, alerts: false, silences: false, rejections: true });
    expect(cfg.thresholds.map((t) => t.rule)).toContain('battery-low');
    expect(cfg.stream.url).toBe('/api/v1/stream');
    const anon = await (await fetch(`${url}/api/v1/console/session`)).json();
    expect(anon).toEqual({ principal: null });
    const stew = await (await fetch(`${url}/api/v1/console/session`, { headers: { authorization: `Bearer ${TOKENS.steward}` } })).json();
    expect(stew).toEqual({ principal: { name: 'stew', role: 'steward' } });
    const wrong = await fetch(`${url}/api/v1/console/session`, { headers: { authorization: 'Bearer not-a-valid-token-at-all' } });
    expect(wrong.status).toBe(401);
  });

  it("tells the page the hub's clock: a replaying scenario's simulated time, else the wall clock", async () => {
    type Clock = { now: number; wall: number; rate: number; scenario: string | null };
    const clockOf = async (u: string): Promise<Clock> => ((await (await fetch(`${u}/api/v1/console/config`)).json()) as { clock: Clock }).clock;
    const before = Date.now();
    const live = await clockOf((await setup()).url);
    expect(live.now).toBe(live.wall);
    expect(live.now).toBeGreaterThanOrEqual(before);
    expect(live).toMatchObject({ rate: 1, scenario: null });
    const simNow = Date.now() - 24 * 86_400_000;
    const replay = await clockOf((await setup({ clock: () => ({ now: simNow, rate: 3600, scenario: 'drought' }) })).url);
    expect(replay).toMatchObject({ now: simNow, rate: 3600, scenario: 'drought' });
    expect(replay.wall).toBeGreaterThanOrEqual(before);
    // A simulator not started yet (no time) leaves the wall clock.
    expect(await clockOf((await setup({ clock: () => undefined })).url)).toMatchObject({ rate: 1, scenario: null });
  });

  it('without built assets the page says how to build them, and the API keeps serving', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'steward-console-empty-'));
    closers.push(() => rmSync(empty, { recursive: true, force: true }));
    const { url } = await setup({ distDir: empty, build: 'never' });
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
    expect((await fetch(`${url}/api/v1/readings/latest`)).status).toBe(200);
  });
});

describe('build', () => {
  it('builds into an empty directory, and knows when a build is stale', async () => {
    const out = mkdtempSync(join(tmpdir(), 'steward-console-build-'));
    try {
      expect(needsBuild(out)).toBe(true);
      const r = await buildConsole({ outDir: out });
      expect(r.files[0]).toBe('index.html');
      expect(readdirSync(join(out, 'assets')).filter((f) => /^app-[A-Z0-9]+\.(js|css)$/.test(f))).toHaveLength(2);
      expect(needsBuild(out)).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
