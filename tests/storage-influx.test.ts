/**
 * The InfluxDB store against real servers: the storage contract on InfluxDB 1.6.7 (v1 API), the
 * stored schema checked by querying InfluxDB directly, partial writes and outages on the real
 * server, the v2 write path against VictoriaMetrics (which speaks /api/v2/write), and InfluxDB
 * 1.6.7's 404 on /api/v2/write. Status codes a real server will not produce on demand (429, 503,
 * 413, 401…) are played by a small local HTTP server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { Point } from '@influxdata/influxdb-client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { influxSchema } from '../core/config.ts';
import { quoteString } from '../storage/influxql.ts';
import { createInfluxStore, type InfluxStore } from '../storage/influx.ts';
import { toPoint } from '../storage/lineprotocol.ts';
import { RetryableStorageError, type StoredReading } from '../core/store.ts';
import { type Logger, silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { type InfluxHandle, startInfluxDB, startVictoriaMetrics } from './harness/services.ts';
import { runStoreContract } from './storage-contract.ts';

const HOUR = 3_600_000;
const base = (): number => Math.floor(Date.now() / HOUR) * HOUR - HOUR;

function reading(over: Partial<StoredReading> & Pick<StoredReading, 'ts'>): StoredReading {
  return { hub: 'hub-a', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', seq: 1, metrics: { groundwater_level: 1 }, ...over };
}

/** A pino logger that keeps its records in memory. */
function captureLogger(): { logger: Logger; records: Array<{ level: number; msg: string; [k: string]: unknown }> } {
  const records: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void records.push(JSON.parse(s) as { level: number; msg: string }) });
  return { logger, records };
}

let influx: InfluxHandle;
let dbCounter = 0;

function v1Store(database: string, extra: Record<string, unknown> = {}, opts: { logger?: Logger; fetch?: typeof fetch } = {}): InfluxStore {
  const cfg = influxSchema.parse({ url: influx.url, database, timeoutMs: 3000, ...extra });
  return createInfluxStore(cfg, { logger: opts.logger ?? silentLogger, metrics: createMetrics(), ...(opts.fetch ? { fetch: opts.fetch } : {}) });
}

async function rows(database: string, q: string): Promise<Array<Record<string, unknown>>> {
  const params = new URLSearchParams({ db: database, q, epoch: 'ms' });
  const res = await fetch(`${influx.url}/query?${params.toString()}`);
  const body = (await res.json()) as { results: Array<{ error?: string; series?: Array<{ tags?: Record<string, string>; columns: string[]; values: unknown[][] }> }> };
  const out: Array<Record<string, unknown>> = [];
  for (const r of body.results) {
    if (r.error) throw new Error(r.error);
    for (const s of r.series ?? []) for (const v of s.values) out.push(Object.fromEntries([...Object.entries(s.tags ?? {}), ...s.columns.map((c, i) => [c, v[i]])]));
  }
  return out;
}

beforeAll(async () => {
  influx = await startInfluxDB();
});
afterAll(async () => {
  await influx?.stop();
});

runStoreContract('InfluxDB 1.6.7 (v1 write API, InfluxQL reads)', async () => {
  const database = `contract_${++dbCounter}`;
  const store = v1Store(database);
  await store.start(); // creates the database
  return {
    store,
    async close() {
      await store.stop();
      await influx.query(`DROP DATABASE "${database}"`);
    },
  };
});

describe('InfluxDB 1.6.7: what is stored', () => {
  it('writes the documented schema: measurement per domain, four id tags, typed fields, the sensor timestamp in ms', async () => {
    const store = v1Store('schema');
    await store.start();
    const t = base() + 123;
    const nasty = 'Erithacus "rubecula", a=b \\ x\\\nnew line \\';
    const out = await store.write([
      reading({
        domain: 'biodiversity',
        sensor: 'mic-1',
        site: 'hedge',
        kind: 'acoustic',
        ts: t,
        seq: 17,
        metrics: { count: 2, confidence: 1 },
        species: nasty,
        policy: 'default-1',
        location: { lat: 51.505, lon: -0.095 },
        attributes: { method: 'acoustic', battery_v: 3.7, at_home: false },
      }),
    ]);
    expect(out).toEqual({ written: 1, rejected: [] });
    expect(await rows('schema', 'SHOW TAG KEYS FROM "biodiversity"')).toEqual(['hub', 'kind', 'sensor', 'site'].map((tagKey) => ({ tagKey })));
    const fieldTypes = Object.fromEntries((await rows('schema', 'SHOW FIELD KEYS FROM "biodiversity"')).map((r) => [r.fieldKey, r.fieldType]));
    expect(fieldTypes).toEqual({
      attr_at_home: 'boolean',
      attr_battery_v: 'float',
      attr_method: 'string',
      confidence: 'float', // 1 is written as a float, never as an integer
      count: 'float',
      lat: 'float',
      lon: 'float',
      policy: 'string',
      seq: 'float',
      species: 'string',
    });
    expect(await rows('schema', 'SELECT * FROM "biodiversity"')).toEqual([
      { time: t, hub: 'hub-a', site: 'hedge', sensor: 'mic-1', kind: 'acoustic', count: 2, confidence: 1, seq: 17, species: nasty, policy: 'default-1', lat: 51.505, lon: -0.095, attr_method: 'acoustic', attr_battery_v: 3.7, attr_at_home: false },
    ]);
    // quoteString survives the real InfluxQL parser with the same nasty string.
    expect(await rows('schema', `SELECT "count" FROM "biodiversity" WHERE "species" = ${quoteString(nasty)}`)).toEqual([{ time: t, count: 2 }]);
    await influx.query('DROP DATABASE "schema"');
  });

  it('a redelivered batch overwrites itself: no duplicates in InfluxDB', async () => {
    const store = v1Store('redeliver');
    await store.start();
    const t = base();
    const batch = [0, 1, 2].map((i) => reading({ ts: t + i * 1000, seq: i, metrics: { groundwater_level: i } }));
    await store.write(batch);
    await store.write(batch);
    expect(await rows('redeliver', 'SELECT count("groundwater_level") FROM "water"')).toEqual([{ time: 0, count: 3 }]);
    await influx.query('DROP DATABASE "redeliver"');
  });

  it('a partial write (field type conflict) stores the good lines, reports the bad one with the server reason, and returns', async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).includes('/write')) requests++;
      return fetch(input, init);
    };
    const store = v1Store('partial', {}, { fetch: counting });
    await store.start();
    const t = base();
    expect((await store.write([reading({ ts: t, metrics: { groundwater_level: 1 } })])).written).toBe(1);
    requests = 0;

    const good = Array.from({ length: 20 }, (_, i) => toPoint(reading({ sensor: `well-${i}`, ts: t + 1000, seq: i, metrics: { groundwater_level: 10 + i } })));
    // Crafted: the same field as a string, which InfluxDB refuses (the field is a float already).
    const bad = new Point('water').tag('hub', 'hub-a').tag('site', 'north').tag('sensor', 'intruder').tag('kind', 'piezometer').stringField('groundwater_level', 'high').timestamp(t + 1000);
    const batch = [...good.slice(0, 13), bad, ...good.slice(13)];
    const started = Date.now();
    const out = await store.writePoints(batch);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(out.written).toBe(20);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0]?.index).toBe(13);
    expect(out.rejected[0]?.reason).toMatch(/^InfluxDB 400: .*field type conflict.*groundwater_level/);
    // Bisection: 1 + 2 per level, log2(21) levels at most.
    expect(requests).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(21)));
    const stored = await rows('partial', `SELECT "groundwater_level" FROM "water" WHERE time = ${t + 1000}ms`);
    expect(stored.map((r) => r.groundwater_level).sort((a, b) => Number(a) - Number(b))).toEqual(good.map((_, i) => 10 + i));

    // A batch of nothing but bad lines: every one reported, the call still returns.
    const allBad = [1, 2, 3].map((i) => new Point('water').tag('hub', 'hub-a').tag('sensor', `x${i}`).stringField('groundwater_level', 'no').timestamp(t + i));
    const out2 = await store.writePoints(allBad);
    expect(out2).toMatchObject({ written: 0 });
    expect(out2.rejected.map((r) => r.index)).toEqual([0, 1, 2]);
    await influx.query('DROP DATABASE "partial"');
  });

  it('an outage: writes fail fast with RetryableStorageError while InfluxDB is down and succeed when it is back', async () => {
    const metrics = createMetrics();
    const cfg = influxSchema.parse({ url: influx.url, database: 'outage', timeoutMs: 1000 });
    const store = createInfluxStore(cfg, { logger: silentLogger, metrics });
    await store.start();
    const t = base();
    await influx.pause();
    try {
      expect(await store.ping()).toBe(false);
      const started = Date.now();
      const err = await store.write([reading({ ts: t })]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableStorageError);
      expect((err as Error).message).toMatch(/not reachable/);
      expect(Date.now() - started).toBeLessThan(1500);
      await expect(store.latest({})).rejects.toBeInstanceOf(RetryableStorageError);
      await expect(store.start()).resolves.toBeUndefined(); // never throws when unreachable
    } finally {
      await influx.resume();
    }
    expect(await store.ping()).toBe(true);
    expect(await store.write([reading({ ts: t, metrics: { groundwater_level: 4 } })])).toEqual({ written: 1, rejected: [] });
    expect(await store.range({ sensor: 'well-1', metric: 'groundwater_level', from: t, to: t + 1 })).toEqual([{ ts: t, value: 4 }]);
    const errors = await metrics.registry.getSingleMetricAsString('steward_storage_errors_total');
    expect(errors).toMatch(/store="influxdb-v1",retryable="true"} 1/);
    await influx.query('DROP DATABASE "outage"');
  });

  it('a server that accepts the connection but never answers: RetryableStorageError after the configured timeout', async () => {
    // Double: a TCP server that swallows requests. No real InfluxDB hangs on demand.
    const sockets = new Set<Socket>();
    const hung = createTcpServer((s) => (sockets.add(s), s.on('error', () => undefined)));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    try {
      for (const extra of [{ database: 'x' }, { api: 'v2', org: 'o', bucket: 'b' }]) {
        const store = createInfluxStore(influxSchema.parse({ url, timeoutMs: 300, ...extra }), { logger: silentLogger });
        const started = Date.now();
        await expect(store.write([reading({ ts: base() })])).rejects.toBeInstanceOf(RetryableStorageError);
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        expect(Date.now() - started).toBeLessThan(3000);
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => hung.close(r));
    }
  });

  it('the v2 store against InfluxDB 1.6.7: /api/v2/write answers 404, reported loudly as RetryableStorageError, nothing lost', async () => {
    await influx.query('CREATE DATABASE "steward_v2"');
    const { logger, records } = captureLogger();
    const store = createInfluxStore(influxSchema.parse({ url: influx.url, org: 'hub', bucket: 'steward_v2', token: 'secret-token', timeoutMs: 3000 }), { logger });
    expect(store.kind).toBe('influxdb-v2');
    const err = await store.write([reading({ ts: base() })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableStorageError);
    expect((err as Error).message).toMatch(/404/);
    const loud = records.filter((r) => r.level >= 50);
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatchObject({ status: 404, bucket: 'steward_v2', org: 'hub' });
    expect(JSON.stringify(records)).not.toContain('secret-token');
    // Reads still work on 1.x (InfluxQL with db=bucket), and nothing was stored.
    expect(await store.latest({})).toEqual([]);
    await influx.query('DROP DATABASE "steward_v2"');
  });
});

describe('InfluxDB 1.6.7: aggregates of what earlier runs wrote', () => {
  it('a store started on a database without aggregates summarises its history once; after that, only hours since the newest bucket', async () => {
    const t = Math.floor(Date.now() / HOUR) * HOUR - 50 * HOUR;
    const before = v1Store('catchup');
    await before.start();
    // Written by a run that never downsampled (or by another tool).
    await before.write(Array.from({ length: 48 }, (_, i) => reading({ ts: t + i * HOUR + 60_000, seq: i, metrics: { groundwater_level: i } })));
    await before.stop();
    const after = createInfluxStore(influxSchema.parse({ url: influx.url, database: 'catchup', timeoutMs: 3000 }), { logger: silentLogger, downsampleIntervalMs: 0 });
    await after.start();
    expect(await after.catchUp()).toBeGreaterThanOrEqual(50);
    expect((await after.downsample()).hours).toBe(48);
    const q = { sensor: 'well-1', metric: 'groundwater_level', from: t, to: t + 48 * HOUR, resolution: '1h' as const, agg: 'sum' as const };
    expect((await after.range(q)).map((p) => p.value)).toEqual(Array.from({ length: 48 }, (_, i) => i));
    // The next start marks only the hours from the newest bucket on.
    const again = createInfluxStore(influxSchema.parse({ url: influx.url, database: 'catchup', timeoutMs: 3000 }), { logger: silentLogger, downsampleIntervalMs: 0 });
    expect(await again.catchUp()).toBeLessThanOrEqual(4);
    await influx.query('DROP DATABASE "catchup"');
  });
});

describe('v2 write path against VictoriaMetrics (/api/v2/write)', () => {
  it('stores every metric of every reading with its tags and the sensor timestamp in ms', async () => {
    const vm = await startVictoriaMetrics();
    try {
      const metrics = createMetrics();
      const store = createInfluxStore(influxSchema.parse({ url: vm.url, org: 'steward', bucket: 'steward', token: 'unused' }), { logger: silentLogger, metrics });
      await store.start();
      expect(await store.ping()).toBe(true);
      const t = base() + 7;
      const out = await store.write([
        reading({ ts: t, metrics: { groundwater_level: 12.5, water_temperature: 9 } }),
        reading({ ts: t + 1000, metrics: { groundwater_level: 12.25, water_temperature: 9.5 } }),
        reading({ hub: '0', sensor: 'z-_', site: '9_', kind: 'k-', ts: t, metrics: { river_stage: 0.75 } }),
      ]);
      expect(out).toEqual({ written: 3, rejected: [] });
      const series = await vm.exportSeries('{__name__=~"water_(groundwater_level|water_temperature|river_stage)"}', { waitForSeries: 3 });
      expect(series).toEqual([
        { metric: { __name__: 'water_groundwater_level', hub: 'hub-a', kind: 'piezometer', sensor: 'well-1', site: 'north' }, values: [12.5, 12.25], timestamps: [t, t + 1000] },
        { metric: { __name__: 'water_river_stage', hub: '0', kind: 'k-', sensor: 'z-_', site: '9_' }, values: [0.75], timestamps: [t] },
        { metric: { __name__: 'water_water_temperature', hub: 'hub-a', kind: 'piezometer', sensor: 'well-1', site: 'north' }, values: [9, 9.5], timestamps: [t, t + 1000] },
      ]);
      const seq = await vm.exportSeries('water_seq{sensor="well-1"}', { waitForSeries: 1 });
      expect(seq[0]?.values).toEqual([1, 1]);
      expect(await metrics.registry.getSingleMetricAsString('steward_storage_write_seconds')).toMatch(/steward_storage_write_seconds_count{store="influxdb-v2",outcome="ok"} 1/);

      // Concurrent writes never share a client buffer: each call stores exactly its own readings.
      const outs = await Promise.all([1, 2, 3, 4, 5].map((k) => store.write(Array.from({ length: 50 }, (_, i) => reading({ sensor: `c-${k}`, ts: t + i, metrics: { ph: 7 } })))));
      expect(outs).toEqual(Array(5).fill({ written: 50, rejected: [] }));
      const ph = await vm.exportSeries('water_ph', { waitForSeries: 5 });
      expect(ph.map((s) => [s.metric.sensor, s.values.length])).toEqual([1, 2, 3, 4, 5].map((k) => [`c-${k}`, 50]));
    } finally {
      await vm.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Status codes on demand: a local HTTP server is a legitimate double here, because no real
// InfluxDB answers 429, 503, 413 or 401 when a test asks it to.
// ---------------------------------------------------------------------------------------------

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function statusServer(handler: (req: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const srv: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))),
  };
}

const API_CONFIGS = {
  v1: { database: 'db', username: 'hub', password: 'pw' },
  v2: { org: 'org', bucket: 'bucket', token: 'tok' },
} as const;

describe.each(['v1', 'v2'] as const)('status classification (%s API, local double)', (api) => {
  const store = (url: string, logger: Logger = silentLogger): InfluxStore => createInfluxStore(influxSchema.parse({ url, timeoutMs: 2000, ...API_CONFIGS[api] }), { logger });
  const batch = (n: number): StoredReading[] => Array.from({ length: n }, (_, i) => reading({ sensor: `s-${i}`, ts: base() + i }));

  it('429 and 503 are retryable and carry Retry-After; 500 is retryable', async () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    const answers: Array<[number, Record<string, string>]> = [
      [429, { 'retry-after': '7' }],
      [503, { 'retry-after': date }],
      [500, {}],
    ];
    let k = 0;
    const srv = await statusServer((_req, res) => {
      const [status, headers] = answers[k++ % answers.length] as [number, Record<string, string>];
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ error: 'busy', message: 'busy' }));
    });
    try {
      const s = store(srv.url);
      const e1 = (await s.write(batch(3)).catch((e: unknown) => e)) as RetryableStorageError;
      expect(e1).toBeInstanceOf(RetryableStorageError);
      expect(e1.retryAfterMs).toBe(7000);
      const e2 = (await s.write(batch(3)).catch((e: unknown) => e)) as RetryableStorageError;
      expect(e2).toBeInstanceOf(RetryableStorageError);
      expect(e2.retryAfterMs).toBeGreaterThan(25_000);
      expect(e2.retryAfterMs).toBeLessThanOrEqual(30_000);
      const e3 = (await s.write(batch(3)).catch((e: unknown) => e)) as RetryableStorageError;
      expect(e3).toBeInstanceOf(RetryableStorageError);
      expect(e3.message).toMatch(/500/);
      expect(srv.seen).toHaveLength(3); // the client library retried nothing on its own
    } finally {
      await srv.close();
    }
  });

  it('401 and 403 are retryable (data kept) and logged at error level', async () => {
    let status = 401;
    const srv = await statusServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"authorization failed","message":"unauthorized access"}'));
    try {
      const { logger, records } = captureLogger();
      const s = store(srv.url, logger);
      await expect(s.write(batch(2))).rejects.toBeInstanceOf(RetryableStorageError);
      status = 403;
      await expect(s.write(batch(2))).rejects.toThrow(/403/);
      expect(records.filter((r) => r.level >= 50).map((r) => r.status)).toEqual([401, 403]);
      // Credentials go where the API wants them.
      const auth = srv.seen[0]?.headers.authorization;
      expect(auth).toBe(api === 'v2' ? 'Token tok' : `Basic ${Buffer.from('hub:pw').toString('base64')}`);
      expect(srv.seen[0]?.path).toBe(api === 'v2' ? '/api/v2/write?org=org&bucket=bucket&precision=ms' : '/write?db=db&precision=ms');
    } finally {
      await srv.close();
    }
  });

  it('400/422 bisect down to the bad lines, whose reasons are reported; 413 splits the batch', async () => {
    const srv = await statusServer((req, res) => {
      const lines = req.body.split('\n');
      if (lines.length > 4) return void res.writeHead(413).end('{"code":"request too large","message":"too large"}');
      const bad = lines.filter((l) => l.includes('sensor=s-3') || l.includes('sensor=s-6'));
      if (bad.length === 0) return void res.writeHead(204).end();
      // 2.x/3.x style (422 with a JSON message) for v2, 1.x style (400 with {"error"}) for v1.
      if (api === 'v2') res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'unprocessable entity', message: `partial write: bad ${bad.length}` }));
      else res.writeHead(400, { 'content-type': 'application/json', 'x-influxdb-error': `partial write: bad ${bad.length}` }).end(JSON.stringify({ error: `partial write: bad ${bad.length}` }));
    });
    try {
      const out = await store(srv.url).write(batch(10));
      expect(out.written).toBe(8);
      expect(out.rejected).toEqual([
        { index: 3, reason: `InfluxDB ${api === 'v2' ? 422 : 400}: partial write: bad 1` },
        { index: 6, reason: `InfluxDB ${api === 'v2' ? 422 : 400}: partial write: bad 1` },
      ]);
      // Every good line reached a 204.
      const stored = new Set<string>();
      for (const s of srv.seen) {
        const lines = s.body.split('\n');
        if (lines.length <= 4 && !lines.some((l) => l.includes('sensor=s-3') || l.includes('sensor=s-6'))) lines.forEach((l) => stored.add(l));
      }
      expect(stored.size).toBe(8);
    } finally {
      await srv.close();
    }
  });

  it('a single line the server finds too large is rejected, not retried forever', async () => {
    const srv = await statusServer((_req, res) => res.writeHead(413).end('too large'));
    try {
      const out = await store(srv.url).write(batch(2));
      expect(out).toEqual({ written: 0, rejected: [0, 1].map((index) => ({ index, reason: 'InfluxDB 413: point too large: too large' })) });
      expect(srv.seen).toHaveLength(3);
    } finally {
      await srv.close();
    }
  });

  it('reads: 503 is retryable, a statement error is a StorageError with the server message', async () => {
    let mode = 'busy';
    const srv = await statusServer((_req, res) => {
      if (mode === 'busy') res.writeHead(503, { 'retry-after': '2' }).end('overloaded');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0,"error":"database not found: bucket"}]}');
    });
    try {
      const s = store(srv.url);
      const e = (await s.latest({}).catch((x: unknown) => x)) as RetryableStorageError;
      expect(e).toBeInstanceOf(RetryableStorageError);
      expect(e.retryAfterMs).toBe(2000);
      mode = 'missing';
      await expect(s.range({ sensor: 's', metric: 'ph', from: 0, to: 1 })).rejects.toMatchObject({ code: 'STORAGE_ERR_QUERY_FAILED', message: expect.stringMatching(/database not found/) });
      const q = new URL(srv.url + (srv.seen[1]?.path ?? ''));
      expect(q.pathname).toBe('/query');
      expect(q.searchParams.get('db')).toBe(api === 'v2' ? 'bucket' : 'db');
      expect(q.searchParams.get('epoch')).toBe('ms');
      expect(srv.seen[1]?.headers.authorization).toBe(api === 'v2' ? 'Token tok' : `Basic ${Buffer.from('hub:pw').toString('base64')}`);
    } finally {
      await srv.close();
    }
  });
});

describe('v2 aggregates go to the configured buckets and are read through their DBRP mapping (local double)', () => {
  it('downsampling writes <domain>_1h to the hourly bucket and <domain>_1d to the daily one; reads name their retention policy', async () => {
    const t = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
    const answer = JSON.stringify({
      results: [
        {
          statement_id: 0,
          series: [{ name: 'x', tags: { hub: 'hub-a', site: 'north', sensor: 'well-1', kind: 'piezometer' }, columns: ['time', ...['min', 'max', 'sum', 'count', 'last'].map((f) => `groundwater_level_${f}`)], values: [[t, 1, 3, 4, 2, 3]] }],
        },
      ],
    });
    const srv = await statusServer((req, res) => {
      if (req.path.startsWith('/api/v2/write')) return void res.writeHead(204).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
    try {
      const store = createInfluxStore(
        influxSchema.parse({ url: srv.url, org: 'o', bucket: 'steward', token: 't', aggregates: { hourlyBucket: 'steward/steward_1h', dailyBucket: 'steward/steward_1d' } }),
        { logger: silentLogger, downsampleIntervalMs: 0 },
      );
      expect(await store.write([reading({ ts: t + 5 })])).toEqual({ written: 1, rejected: [] });
      expect(await store.downsample()).toMatchObject({ hours: 1, days: 1 });
      const writes = srv.seen.filter((s) => s.path.startsWith('/api/v2/write')).map((s) => [new URL(srv.url + s.path).searchParams.get('bucket'), s.body.split(' ')[0]]);
      expect(writes).toEqual([
        ['steward', 'water,hub=hub-a,kind=piezometer,sensor=well-1,site=north'],
        ['steward/steward_1h', 'water_1h,hub=hub-a,kind=piezometer,sensor=well-1,site=north'],
        ['steward/steward_1d', 'water_1d,hub=hub-a,kind=piezometer,sensor=well-1,site=north'],
      ]);
      const queries = srv.seen.filter((s) => s.path.startsWith('/query')).map((s) => new URL(srv.url + s.path).searchParams);
      expect(queries.map((q) => q.get('db'))).toEqual(['steward', 'steward']);
      expect(queries[0]?.get('q')).toMatch(/^SELECT min\("groundwater_level"\) AS "groundwater_level_min", .* FROM "water" WHERE time >= \d+ms AND time < \d+ms GROUP BY time\(1h\), "hub","site","sensor","kind" fill\(none\)$/);
      expect(queries[1]?.get('q')).toContain('FROM "steward_1h"."water_1h" WHERE');
      expect(await store.range({ sensor: 'well-1', metric: 'groundwater_level', from: t, to: t + HOUR, resolution: '1h' })).toEqual([{ ts: t, value: 2 }]);
      expect(new URL(srv.url + (srv.seen.at(-1)?.path ?? '')).searchParams.get('q')).toContain('FROM "steward_1h"."water_1h" WHERE "sensor" = \'well-1\'');
    } finally {
      await srv.close();
    }
  });
});

describe('v2 reads address the bucket through its DBRP mapping (local double)', () => {
  it('bucket "db/rp" reads database db with FROM "rp"."measurement"; a plain bucket reads database = bucket', async () => {
    const srv = await statusServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}'));
    try {
      for (const [bucket, db, from] of [
        ['steward/one_year', 'steward', '"one_year"."water"'],
        ['steward', 'steward', '"water"'],
      ] as const) {
        const store = createInfluxStore(influxSchema.parse({ url: srv.url, org: 'o', bucket, token: 't' }), { logger: silentLogger });
        await store.range({ sensor: 's', metric: 'ph', from: 0, to: 1 });
        const q = new URL(srv.url + (srv.seen.at(-1)?.path ?? ''));
        expect(q.searchParams.get('db')).toBe(db);
        expect(q.searchParams.get('q')).toContain(`FROM ${from} WHERE`);
      }
    } finally {
      await srv.close();
    }
  });
});
