/**
 * The forwarder in its worker thread, through the real entry (cli/forwarder-thread.ts): it opens
 * its own connections to the spool, the embedded store and the dead letters and its own privacy
 * boundary from the config, and the main thread sees what it did (spool depth, metrics, stored
 * records) as if it ran on the main thread.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../core/config.ts';
import type { Reading } from '../core/reading.ts';
import type { StoredReading, WriteRoute } from '../core/store.ts';
import { ForwarderThread, Spool, type StoredMode } from '../ingest/index.ts';
import { waitFor as waitUntil } from '../ingest/testing.ts';
import { createEmbeddedStore } from '../storage/index.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics, renderMetrics, type PipelineMetrics } from '../telemetry/metrics.ts';

const ENTRY = new URL('./forwarder-thread.ts', import.meta.url);
const T0 = Date.now() - 60_000;
const reading = (sensor: string, seq: number): Reading => ({ hub: 'demo', domain: 'water', sensor, site: 'well-1', kind: 'level', ts: T0 + seq, seq, metrics: { groundwater_level: 10 + seq / 1000 } });

/** The thread's start-up (its code through tsx) takes a while: a longer default deadline. */
const waitFor = (cond: () => boolean, ms = 20_000): Promise<void> => waitUntil(cond, ms);

describe('the forwarder thread', () => {
  let dir: string;
  let config: Config;
  let spool: Spool;
  let metrics: PipelineMetrics;
  let thread: ForwarderThread | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fwd-thread-'));
    config = parseConfig({ dataDir: dir, logLevel: 'silent', ingest: { batchSize: 100, flushIntervalMs: 50 } });
    spool = new Spool(dir);
    metrics = createMetrics();
  });
  afterEach(async () => {
    await thread?.stop(2000);
    thread = undefined;
    spool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (o: { mode?: StoredMode; onStored?: (r: StoredReading[]) => void; entry?: URL } = {}): ForwarderThread => {
    thread = new ForwarderThread({
      entry: o.entry ?? ENTRY,
      restartDelayMs: 100,
      data: { config, pretty: false },
      spool,
      store: {},
      metrics,
      logger: silentLogger,
      ...(o.onStored ? { onStored: o.onStored } : {}),
      ...(o.mode ? { storedMode: () => o.mode! } : {}),
    });
    thread.start();
    return thread;
  };

  it('stores what the spool holds, empties it, and its counts show in the main thread’s /metrics', async () => {
    spool.append(Array.from({ length: 250 }, (_, i) => reading(`w${i % 5}`, i)));
    const stored: StoredReading[] = [];
    start({ onStored: (rs) => stored.push(...rs) });
    await waitFor(() => spool.depth() === 0 && stored.length === 250);
    // What it forwarded is deleted by the main thread (the spool's one writer) soon after.
    await waitFor(() => spool.take(10).length === 0, 5000);
    const text = await renderMetrics(metrics);
    expect(text).toMatch(/steward_readings_stored_total\{store="embedded"\} 250/);
    expect(text).toMatch(/steward_spool_depth 0/);
    await thread!.stop(2000);
    thread = undefined;
    // A separate connection (as the API reads) sees every reading.
    const store = createEmbeddedStore({ dataDir: dir, logger: silentLogger, maintenance: false });
    await store.start();
    const latest = await store.latest({ hub: 'demo', domain: 'water' });
    await store.stop();
    expect(latest.map((l) => l.sensor).sort()).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
    expect(latest.find((l) => l.sensor === 'w4')?.value).toBeCloseTo(10.249);
  });

  it('boots without forwarding (a node does this before it accepts devices), then forwards once started', async () => {
    spool.append(Array.from({ length: 30 }, (_, i) => reading('w0', i)));
    thread = new ForwarderThread({ entry: ENTRY, data: { config, pretty: false }, spool, store: {}, metrics, logger: silentLogger });
    await thread.boot();
    await new Promise((r) => setTimeout(r, 300));
    expect(spool.take(100)).toHaveLength(30);
    thread.start();
    await waitFor(() => spool.depth() === 0);
    expect(await renderMetrics(metrics)).toMatch(/steward_readings_stored_total\{store="embedded"\} 30/);
  });

  it("hands back only the newest record of each sensor when that is all that is wanted ('latest')", async () => {
    const stored: StoredReading[][] = [];
    start({ mode: 'latest', onStored: (rs) => stored.push(rs) });
    spool.append(Array.from({ length: 50 }, (_, i) => reading(`w${i % 2}`, i)));
    thread!.poke();
    await waitFor(() => spool.depth() === 0 && stored.length > 0);
    const all = stored.flat();
    expect(all.map((r) => `${r.sensor}:${r.seq}`).sort()).toEqual(['w0:48', 'w1:49']);
  });

  it("hands back species detections only, or with each sensor's newest, when that is what is wanted (the console's species tally)", async () => {
    const bird = (seq: number, species?: string): Reading => ({ hub: 'demo', domain: 'biodiversity', sensor: 'cam-1', site: 'meadow', kind: 'camera-trap', ts: T0 + seq, seq, metrics: { count: 1 }, ...(species ? { species } : {}) });
    // cam-1's seq 6 arrived late: older than seq 4, its newest, which must be handed back last.
    const late = { ...bird(6, 'Sitta europaea'), ts: T0 + 2 };
    const batch = [reading('w0', 0), bird(1, 'Turdus merula'), reading('w0', 2), bird(3), bird(4, 'Erithacus rubecula'), reading('w1', 5), late];
    for (const [mode, expected] of [
      ['detections', ['cam-1:1', 'cam-1:4', 'cam-1:6']],
      ['latest+detections', ['cam-1:1', 'cam-1:6', 'w0:2', 'cam-1:4', 'w1:5']],
    ] as const) {
      const stored: StoredReading[][] = [];
      const t = start({ mode, onStored: (rs) => stored.push(rs) });
      spool.append(batch.map((r) => ({ ...r, ts: r.ts + (mode === 'detections' ? 0 : 100) })));
      t.poke();
      await waitFor(() => spool.depth() === 0 && stored.length > 0);
      expect(stored.flat().map((r) => `${r.sensor}:${r.seq}`), mode).toEqual(expected);
      await t.stop(2000);
      thread = undefined;
    }
  });

  it("hands back nothing when nobody wants stored records ('none'), and still stores them", async () => {
    const stored: StoredReading[] = [];
    start({ mode: 'none', onStored: (rs) => stored.push(...rs) });
    spool.append(Array.from({ length: 20 }, (_, i) => reading('w0', i)));
    await waitFor(() => spool.depth() === 0);
    expect(await renderMetrics(metrics)).toMatch(/steward_readings_stored_total\{store="embedded"\} 20/);
    expect(stored).toEqual([]);
  });

  it('starts a thread that died again, which carries on from the spool', async () => {
    // An entry that dies the first time it runs (as a thread crashing would), then runs the real one.
    const tsx = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
    const marker = join(dir, 'died-once');
    const entry = join(dir, 'dies-once.mjs');
    writeFileSync(
      entry,
      `import { existsSync, writeFileSync } from 'node:fs';
       if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3); }
       const tsx = await import(${JSON.stringify(tsx)}); tsx.register();
       await import(${JSON.stringify(ENTRY.href)});`,
    );
    spool.append(Array.from({ length: 40 }, (_, i) => reading('w0', i)));
    const t = start({ entry: pathToFileURL(entry) });
    await waitFor(() => existsSync(marker));
    await waitFor(() => spool.depth() === 0);
    expect(t.reachable()).toBe(true);
    expect(await renderMetrics(metrics)).toMatch(/steward_readings_stored_total\{store="embedded"\} 40/);
  });

  it("takes the main thread's own store writes (alerts) on its connection, the store's one writer, and hands them back when it stops", async () => {
    const main = createEmbeddedStore({ dataDir: dir, logger: silentLogger });
    await main.start();
    const routed: string[] = [];
    // The main store as the pipeline hands it over, with the route the thread installs observed.
    const observed = { routeWrites: (r: WriteRoute | undefined) => main.routeWrites(r ? (w) => (routed.push(w.kind), r(w)) : undefined) };
    const alert = (subject: string) => ({ ts: T0, hub: 'demo', rule: 'aquifer-depletion', subject, severity: 'critical', kind: 'depletion', state: 'firing', message: `Aquifer at ${subject} is low` });
    try {
      thread = new ForwarderThread({ entry: ENTRY, data: { config, pretty: false }, spool, store: observed, metrics, logger: silentLogger });
      thread.start();
      await main.writeAlerts([alert('well-1')]);
      expect(routed).toEqual(['alerts']);
      await thread.stop(2000);
      thread = undefined;
      // Stopped: the main store writes for itself again.
      await main.writeAlerts([alert('well-2')]);
      expect(routed).toEqual(['alerts']);
    } finally {
      await main.stop();
    }
    const db = new Database(join(dir, 'store.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT subject FROM alerts ORDER BY subject').pluck().all()).toEqual(['well-1', 'well-2']);
    } finally {
      db.close();
    }
  });

  it('forwards what is appended while it stops, within the deadline, and leaves nothing half-done', async () => {
    start();
    spool.append(Array.from({ length: 300 }, (_, i) => reading('w0', i)));
    await thread!.stop(5000);
    thread = undefined;
    const reopened = new Spool(dir);
    try {
      expect(reopened.depth()).toBe(0);
    } finally {
      reopened.close();
    }
  });
});
