/**
 * Years, not days: one simulated year of the demo fleet (simulators/, the demo hub's 20 sensors at
 * their own intervals, ending now) written into each store the way ingest writes it, downsampled
 * as it goes (once per simulated day, as the stores' own schedule would), and then measured:
 * disk size, `GET /api/v1/readings/latest` and one-year range queries through the real API.
 * Each store is compared with the same store holding only the last 30 days, so growth with
 * history shows. On InfluxDB the unbounded `last()` statements `/latest` used to send are timed too.
 *
 *   node --import tsx bench/years.ts [--days 365] [--stores embedded,influx] [--repeat 20]
 *
 * Readings are parsed from the simulators' payloads (core/parse.ts) and stored without the privacy
 * boundary (household meters included as they are): an upper bound of what a hub stores.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeTestApi, type TestApi } from '../api/testing.ts';
import { influxSchema } from '../core/config.ts';
import { parsePayload } from '../core/parse.ts';
import { demoFleet } from '../simulators/fleet.ts';
import { generate } from '../simulators/runner.ts';
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded.ts';
import { createInfluxStore, type InfluxStore } from '../storage/influx.ts';
import { latestStatements } from '../storage/influxql.ts';
import type { ReadingStore, StoredReading } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { type InfluxHandle, startInfluxDB, stopAll } from '../tests/harness/services.ts';
import { benchArgs } from './lib/args.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;

const { opt: args, num } = benchArgs('node --import tsx bench/years.ts [--days 365] [--stores embedded,influx] [--repeat 20] [--seed 1]\n', {
  days: { type: 'string', default: '365' },
  stores: { type: 'string', default: 'embedded,influx' },
  repeat: { type: 'string', default: '20' },
  seed: { type: 'string', default: '1' },
});
const days = num('days', args.days);
const repeat = num('repeat', args.repeat, 1);
const kinds = new Set(args.stores.split(','));
const end = Math.floor(Date.now() / HOUR) * HOUR;
const start = end - days * DAY;
const monthFrom = end - 30 * DAY;

interface Target {
  name: string;
  store: ReadingStore;
  /** Only readings at or after this time (the 30-day comparison store). */
  since: number;
  /** Simulated "now" of an embedded store's retention. */
  setNow?: (t: number) => void;
  size(): Promise<Record<string, number>>;
  drop(): Promise<void>;
}

const work = mkdtempSync(join(tmpdir(), 'steward-years-'));
let influx: InfluxHandle | undefined;

function du(path: string): number {
  if (!existsSync(path)) return 0;
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

function embedded(name: string, since: number): Target {
  const dataDir = join(work, name);
  let now = start;
  const store: EmbeddedStore = createEmbeddedStore({
    dataDir,
    logger: silentLogger,
    retentionDays: 30,
    clock: { now: () => now },
    pruneIntervalMs: 2_000_000_000, // pruned and downsampled by the loop below, on simulated time
    downsampleIntervalMs: 2_000_000_000,
  });
  return {
    name,
    store,
    since,
    setNow: (t) => void (now = t),
    async size() {
      const db = new Database(store.path);
      db.pragma('wal_checkpoint(TRUNCATE)');
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      const free = (db.pragma('freelist_count', { simple: true }) as number) * pageSize;
      const tables: Record<string, number> = {};
      try {
        for (const r of db.prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat WHERE name IN ('points', 'readings', 'agg_hour', 'agg_day', 'species_day') GROUP BY name").all() as Array<{ name: string; bytes: number }>) tables[r.name] = r.bytes;
      } catch {
        // dbstat not compiled in
      }
      db.close();
      return { file: statSync(store.path).size, free, ...tables };
    },
    async drop() {
      await store.stop();
    },
  };
}

function influxTarget(handle: InfluxHandle, name: string, since: number): Target {
  const store: InfluxStore = createInfluxStore(influxSchema.parse({ url: handle.url, database: name, timeoutMs: 120_000 }), { logger: silentLogger, downsampleIntervalMs: 0 });
  return {
    name,
    store,
    since,
    async size() {
      // The WAL is part of the cost; TSM files appear once the cache is snapshotted.
      const out: Record<string, number> = { data: du(join(handle.dataDir, 'data', name)), wal: du(join(handle.dataDir, 'wal', name)) };
      for (const rp of readdirSync(join(handle.dataDir, 'data', name), { withFileTypes: true })) {
        if (!rp.isDirectory()) continue;
        const label = rp.name === '_series' ? 'series file' : `rp ${rp.name}`;
        out[label] = du(join(handle.dataDir, 'data', name, rp.name)) + du(join(handle.dataDir, 'wal', name, rp.name));
      }
      return out;
    },
    async drop() {
      await store.stop();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function timeIt(f: () => Promise<unknown>): Promise<{ p50: number; p95: number; n: number }> {
  await f(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), n: ms.length };
}

async function get(api: TestApi, url: string): Promise<{ points?: unknown[]; readings?: unknown[]; resolution?: string }> {
  const r = await api.app.inject(url);
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 300)}`);
  return r.json();
}

async function main(): Promise<void> {
  console.log(`bench/years: ${days} simulated days of the demo fleet, ${new Date(start).toISOString()} .. ${new Date(end).toISOString()}; load1 ${loadavg()[0]?.toFixed(2)}`);
  const targets: Target[] = [];
  if (kinds.has('embedded')) targets.push(embedded('embedded-year', start), embedded('embedded-month', monthFrom));
  if (kinds.has('influx')) {
    // Caches of shards idle for 5 s are written to TSM files (default 10 min), so the disk figures
    // below are of compressed TSM files, not of the write-ahead log.
    influx = await startInfluxDB({ database: 'unused', data: { 'cache-snapshot-write-cold-duration': '"5s"' } });
    targets.push(influxTarget(influx, 'steward_year', start), influxTarget(influx, 'steward_month', monthFrom));
  }
  for (const t of targets) await t.store.start();

  const fleet = demoFleet('demo');
  const site = new Map(fleet.map((e) => [e.sensor, e.site]));
  const writeMs = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const downMs = new Map<string, number>(targets.map((t) => [t.name, 0]));
  let batch: StoredReading[] = [];
  let readings = 0;
  let points = 0;
  let day = Math.floor(start / DAY);
  const t0 = performance.now();

  const flush = async (endOfDay: boolean): Promise<void> => {
    for (const t of targets) {
      const mine = t.since <= start ? batch : batch.filter((r) => r.ts >= t.since);
      if (mine.length) {
        const w0 = performance.now();
        const out = await t.store.write(mine);
        writeMs.set(t.name, (writeMs.get(t.name) ?? 0) + performance.now() - w0);
        if (out.rejected.length) throw new Error(`${t.name} refused ${out.rejected.length}: ${out.rejected[0]?.reason}`);
      }
      if (endOfDay) {
        t.setNow?.(day * DAY + DAY);
        const d0 = performance.now();
        await t.store.downsample();
        if (t.setNow && day % 7 === 0) await (t.store as EmbeddedStore).prune();
        downMs.set(t.name, (downMs.get(t.name) ?? 0) + performance.now() - d0);
      }
    }
    batch = [];
  };

  for (const msg of generate(fleet, num('seed', args.seed, -Infinity), start, end - 1)) {
    const rs = parsePayload(Buffer.from(JSON.stringify(msg.payload)), { hub: msg.hub, domain: msg.domain, sensor: msg.sensor, site: site.get(msg.sensor) ?? msg.sensor, kind: msg.kind, now: end + DAY });
    for (const r of rs) {
      const d = Math.floor(r.ts / DAY);
      if (d !== day) {
        await flush(true);
        day = d;
        if (day % 30 === 0) console.log(`  ${new Date(day * DAY).toISOString().slice(0, 10)}: ${readings} readings, ${points} metric points, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
      batch.push(r as StoredReading);
      readings++;
      points += Object.keys(r.metrics).length;
      if (batch.length >= 5000) await flush(false);
    }
  }
  await flush(true);
  for (const t of targets) {
    t.setNow?.(end);
    await t.store.downsample();
    if (t.setNow) await (t.store as EmbeddedStore).prune();
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  console.log(`written: ${readings} readings, ${points} metric points in ${loadSeconds.toFixed(0)} s (generation included)`);
  if (influx) {
    // Wait (at most 3 min) for the write-ahead logs to be snapshotted into TSM files.
    const walOf = (): number => du(join((influx as InfluxHandle).dataDir, 'wal'));
    const deadline = Date.now() + 180_000;
    while (walOf() > 5e6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5000));
    console.log(`InfluxDB WAL after waiting: ${(walOf() / 1e6).toFixed(1)} MB`);
  }

  const yearFrom = Math.floor(end / DAY) * DAY - 365 * DAY;
  const base = `/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&from=${yearFrom}&to=${end}`;
  // The densest series: a household meter, one reading a minute (525,600 a year).
  const household = fleet.find((e) => e.kind === 'household-meter')?.sensor ?? 'hh-1000';
  const dense = `/api/v1/readings?hub=demo&sensor=${household}&metric=household_power&from=${yearFrom}&to=${end}`;
  const rows: string[] = [];
  for (const t of targets) {
    const api = await makeTestApi({ store: t.store, clock: { now: () => end } });
    const size = await t.size();
    const latest = await get(api, '/api/v1/readings/latest');
    const fig: Record<string, string> = {};
    fig['latest entries'] = String(latest.readings?.length);
    const lt = await timeIt(() => get(api, '/api/v1/readings/latest'));
    fig['/latest ms'] = `${lt.p50.toFixed(1)} (p95 ${lt.p95.toFixed(1)})`;
    const sl = await timeIt(() => t.store.latest({}));
    fig['store.latest ms'] = `${sl.p50.toFixed(1)} (p95 ${sl.p95.toFixed(1)})`;
    for (const [label, url] of [
      ['1 y auto (1d)', base],
      ['1 y window=1h', `${base}&window=1h`],
      ['1 y raw window=1d', `${base}&window=1d&resolution=raw`],
      ['30 d auto', `/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&from=${end - 30 * DAY}&to=${end}`],
      ['1-min series 1 y auto (1d)', dense],
      ['1-min series 1 y raw window=1d', `${dense}&window=1d&resolution=raw`],
    ] as const) {
      const body = await get(api, url);
      const r = await timeIt(() => get(api, url));
      fig[`${label} ms`] = `${r.p50.toFixed(1)} (p95 ${r.p95.toFixed(1)}; ${body.points?.length} pts, ${body.resolution})`;
    }
    const sp = await timeIt(() => t.store.speciesCounts({ from: yearFrom, to: end }));
    fig['species 1 y ms'] = sp.p50.toFixed(1);
    if (influx && t.name.startsWith('steward_')) {
      // What /latest sent before: one unbounded last() per catalogue metric.
      const q = latestStatements({}).map((s) => s.text).join(';\n');
      const old = await timeIt(async () => {
        const res = await fetch(`${influx?.url}/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ db: t.name, epoch: 'ms', q }) });
        await res.text();
      });
      fig['old unbounded latest ms'] = `${old.p50.toFixed(1)} (p95 ${old.p95.toFixed(1)})`;
    }
    if (influx && t.name.startsWith('steward_')) {
      const res = await fetch(`${influx.url}/query?${new URLSearchParams({ q: 'SHOW SHARDS' }).toString()}`);
      const body = (await res.json()) as { results: Array<{ series?: Array<{ name: string; values?: unknown[][] }> }> };
      const shards = body.results[0]?.series?.find((x) => x.name === t.name)?.values ?? [];
      const byRp = new Map<string, number>();
      for (const v of shards) byRp.set(String(v[2]), (byRp.get(String(v[2])) ?? 0) + 1);
      fig['shards'] = [...byRp].map(([rp, n]) => `${rp} ${n}`).join(', ');
    }
    fig['write s'] = ((writeMs.get(t.name) ?? 0) / 1000).toFixed(1);
    fig['downsample s'] = ((downMs.get(t.name) ?? 0) / 1000).toFixed(1);
    fig['disk'] = Object.entries(size)
      .map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)} MB`)
      .join(', ');
    rows.push(`| ${t.name} | ${Object.entries(fig).map(([k, v]) => `${k}: ${v}`).join('<br>')} |`);
    console.log(t.name, fig);
    await api.close();
  }
  console.log(`\n| store | figures |\n|---|---|\n${rows.join('\n')}`);
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  });
