import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../core/clock.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { createEmbeddedStore, type EmbeddedStore } from './embedded.ts';
import { StorageError } from './errors.ts';
import { RetryableStorageError, type StoredReading } from '../core/store.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 15, 12);

function reading(over: Partial<StoredReading> & Pick<StoredReading, 'ts'>): StoredReading {
  return { hub: 'hub-a', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', seq: 1, metrics: { groundwater_level: 1 }, ...over };
}

let dir: string;
const open: EmbeddedStore[] = [];
function store(opts: { retentionDays?: number; clock?: Clock; busyTimeoutMs?: number; pruneIntervalMs?: number } = {}): EmbeddedStore {
  const s = createEmbeddedStore({ dataDir: dir, logger: silentLogger, clock: { now: () => NOW }, ...opts });
  open.push(s);
  return s;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'steward-embedded-unit-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded store', () => {
  it('keeps readings across a restart (the file is the store)', async () => {
    const a = store();
    await a.start();
    await a.write([reading({ ts: NOW - 1000, metrics: { groundwater_level: 3 } })]);
    await a.stop();
    const b = store();
    await b.start();
    expect((await b.latest({})).map((e) => [e.sensor, e.value])).toEqual([['well-1', 3]]);
    await b.write([reading({ ts: NOW, metrics: { groundwater_level: 4 } })]);
    expect(await b.range({ sensor: 'well-1', metric: 'groundwater_level', from: 0, to: NOW + 1 })).toEqual([
      { ts: NOW - 1000, value: 3 },
      { ts: NOW, value: 4 },
    ]);
  });

  it('two instances on one file (two roles) see each other and never duplicate a series', async () => {
    const a = store();
    const b = store();
    await a.start();
    await b.start();
    await a.write([reading({ ts: NOW - 2000, metrics: { groundwater_level: 1 } })]);
    await b.write([reading({ ts: NOW - 1000, metrics: { groundwater_level: 2 } })]);
    await a.write([reading({ ts: NOW, metrics: { groundwater_level: 3 } })]);
    for (const s of [a, b]) {
      expect((await s.latest({})).map((e) => [e.metric, e.value, e.ts])).toEqual([['groundwater_level', 3, NOW]]);
      expect(await s.range({ sensor: 'well-1', metric: 'groundwater_level', from: 0, to: NOW + 1 })).toHaveLength(3);
    }
  });

  it('retention deletes points, readings and pipeline rows older than the retention; latest keeps the last value', async () => {
    const s = store({ retentionDays: 30 });
    await s.start();
    await s.write([
      reading({ ts: NOW - 40 * DAY, metrics: { groundwater_level: 1 } }),
      reading({ ts: NOW - 31 * DAY, metrics: { groundwater_level: 2 } }),
      reading({ ts: NOW - 29 * DAY, metrics: { groundwater_level: 3 } }),
      reading({ sensor: 'old-gauge', ts: NOW - 35 * DAY, metrics: { river_stage: 1 } }),
    ]);
    await s.writePipeline([
      { ts: NOW - 31 * DAY, role: 'ingest', fields: { a: 1 } },
      { ts: NOW - DAY, role: 'ingest', fields: { a: 2 } },
    ]);
    await s.writeEvaluations([
      { ts: NOW - 31 * DAY, hub: 'hub-a', rule: 'aquifer-depletion', subject: 'well-1', kind: 'depletion', fields: { value: 12, ratePerDay: -0.5 } },
      { ts: NOW - DAY, hub: 'hub-a', rule: 'aquifer-depletion', subject: 'well-1', kind: 'depletion', fields: { value: -1, ratePerDay: 0.1 } },
    ]);
    const counts = await s.prune();
    expect(counts).toEqual({ points: 3, readings: 3, pipeline: 1, evaluations: 2 });
    expect(await s.range({ sensor: 'well-1', metric: 'groundwater_level', from: 0, to: NOW })).toEqual([{ ts: NOW - 29 * DAY, value: 3 }]);
    expect(await s.range({ sensor: 'old-gauge', metric: 'river_stage', from: 0, to: NOW })).toEqual([]);
    // A sensor silent for longer than the retention still shows its last known value.
    expect((await s.latest({ sensor: 'old-gauge' })).map((e) => [e.value, e.ts])).toEqual([[1, NOW - 35 * DAY]]);
    expect(await s.prune()).toEqual({ points: 0, readings: 0, pipeline: 0, evaluations: 0 });
  });

  it('keeps rule evaluations (one row per field); a malformed one is logged and dropped, never thrown', async () => {
    const s = store();
    await s.start();
    await s.writeEvaluations([{ ts: NOW, hub: 'hub-a', rule: 'aquifer-depletion', subject: 'well-1', kind: 'depletion', fields: { value: 12, ratePerDay: -0.5, daysToFloor: 12 } }]);
    await expect(s.writeEvaluations([{ ts: NOW, hub: 'hub-a', rule: 'r', subject: 'x', kind: 'depletion', fields: { value: Number.NaN } }])).resolves.toBeUndefined();
    const db = new Database(s.path, { readonly: true });
    try {
      expect(db.prepare('SELECT field, value FROM rule_evaluations ORDER BY field').all()).toEqual([
        { field: 'daysToFloor', value: 12 },
        { field: 'ratePerDay', value: -0.5 },
        { field: 'value', value: 12 },
      ]);
    } finally {
      db.close();
    }
  });

  it('retention runs by itself on its interval', async () => {
    const s = store({ retentionDays: 1, pruneIntervalMs: 20 });
    await s.start();
    await s.write([reading({ ts: NOW - 2 * DAY }), reading({ ts: NOW })]);
    const deadline = Date.now() + 5000;
    while ((await s.range({ sensor: 'well-1', metric: 'groundwater_level', from: 0, to: NOW + 1 })).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await s.range({ sensor: 'well-1', metric: 'groundwater_level', from: 0, to: NOW + 1 })).toEqual([{ ts: NOW, value: 1 }]);
  });

  it('retention works through many rows in steps', async () => {
    const s = store({ retentionDays: 1 });
    await s.start();
    const old = Array.from({ length: 12_000 }, (_, i) => reading({ ts: NOW - 2 * DAY + i, seq: i, metrics: { groundwater_level: i } }));
    await s.write(old);
    await s.write([reading({ ts: NOW, metrics: { groundwater_level: -1 } })]);
    expect((await s.prune()).points).toBe(12_000);
    expect(await s.range({ sensor: 'well-1', metric: 'groundwater_level', from: 0, to: NOW + 1 })).toEqual([{ ts: NOW, value: -1 }]);
  });

  it('before start: reads throw STORAGE_ERR_NOT_STARTED, writes throw RetryableStorageError (data kept)', async () => {
    const s = store();
    await expect(s.latest({})).rejects.toMatchObject({ code: 'STORAGE_ERR_NOT_STARTED' });
    await expect(s.range({ sensor: 's', metric: 'ph', from: 0, to: 1 })).rejects.toBeInstanceOf(StorageError);
    await expect(s.write([reading({ ts: NOW })])).rejects.toBeInstanceOf(RetryableStorageError);
    expect(await s.ping()).toBe(false);
  });

  it('a write blocked by another writer fails retryably after busyTimeoutMs, and succeeds once the lock is gone', async () => {
    const metrics = createMetrics();
    const s = createEmbeddedStore({ dataDir: dir, logger: silentLogger, metrics, busyTimeoutMs: 100 });
    open.push(s);
    await s.start();
    const other = new Database(s.path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      await expect(s.write([reading({ ts: NOW })])).rejects.toBeInstanceOf(RetryableStorageError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await s.write([reading({ ts: NOW })])).toEqual({ written: 1, rejected: [] });
    expect(await metrics.registry.getSingleMetricAsString('steward_storage_errors_total')).toMatch(/store="embedded",retryable="true"} 1/);
    expect(await metrics.registry.getSingleMetricAsString('steward_storage_write_seconds')).toMatch(/count{store="embedded",outcome="ok"} 1/);
  });

  it('throughput: batched writes (measured, printed)', async () => {
    const s = store({ retentionDays: 0 });
    await s.start();
    const sensors = 100;
    const batches = 8;
    const per = 5000;
    const started = performance.now();
    for (let b = 0; b < batches; b++) {
      const batch = Array.from({ length: per }, (_, i) => {
        const k = b * per + i;
        return reading({ domain: 'energy', sensor: `pv-${k % sensors}`, site: 'roof', kind: 'inverter', ts: NOW - DAY + Math.floor(k / sensors) * 1000, seq: k, policy: 'default-1', metrics: { pv_power: k, wind_power: 0, battery_soc: 50, battery_energy: 1e4, demand_power: 300 } });
      });
      expect((await s.write(batch)).written).toBe(per);
    }
    const seconds = (performance.now() - started) / 1000;
    const rows = batches * per * 5;
    console.log(`embedded store: ${rows} metric rows (${batches * per} readings) in ${seconds.toFixed(2)} s = ${Math.round(rows / seconds)} rows/s`);
    expect(rows / seconds).toBeGreaterThan(20_000); // loose floor: shared CI machines vary
    expect(await s.latest({})).toHaveLength(sensors * 5);
  });
});

describe('embedded store: aggregates', () => {
  const HOUR = 3_600_000;
  const T = Date.UTC(2030, 0, 14); // a UTC day boundary, within 30 days of NOW
  const q = { sensor: 'well-1', metric: 'groundwater_level', from: T - DAY, to: T + 2 * DAY };
  const rows = (db: Database.Database, table: string): unknown[] => db.prepare(`SELECT ts, min, max, sum, count, last FROM ${table} ORDER BY series, ts`).all();

  it('downsampling is idempotent: running it again, or redelivering a reading, never double-counts', async () => {
    const s = store({ retentionDays: 30 });
    await s.start();
    const batch = [reading({ ts: T + 10, metrics: { groundwater_level: 4 } }), reading({ ts: T + 20, metrics: { groundwater_level: 2 } }), reading({ ts: T + HOUR + 5, metrics: { groundwater_level: 9 } })];
    await s.write(batch);
    expect(await s.downsample()).toEqual({ hours: 2, days: 1, speciesDays: 0 });
    expect(await s.downsample()).toEqual({ hours: 0, days: 0, speciesDays: 0 });
    const db = new Database(s.path, { readonly: true });
    try {
      const hours = rows(db, 'agg_hour');
      const days = rows(db, 'agg_day');
      expect(hours).toEqual([
        { ts: T, min: 2, max: 4, sum: 6, count: 2, last: 2 },
        { ts: T + HOUR, min: 9, max: 9, sum: 9, count: 1, last: 9 },
      ]);
      expect(days).toEqual([{ ts: T, min: 2, max: 9, sum: 15, count: 3, last: 9 }]);
      // Redelivery of the same readings marks the hours again; recomputing them gives the same rows.
      await s.write(batch);
      expect((await s.downsample()).hours).toBe(2);
      expect(rows(db, 'agg_hour')).toEqual(hours);
      expect(rows(db, 'agg_day')).toEqual(days);
      // A rewritten value replaces, a late reading joins its hour.
      await s.write([reading({ ts: T + 20, metrics: { groundwater_level: 3 } }), reading({ ts: T + 30 * 60_000, metrics: { groundwater_level: 1 } })]);
      await s.downsample();
      expect(rows(db, 'agg_hour')[0]).toEqual({ ts: T, min: 1, max: 4, sum: 8, count: 3, last: 1 });
    } finally {
      db.close();
    }
  });

  it('aggregates outlive raw retention and answer ranges at 1h and 1d with the same numbers raw points gave', async () => {
    const s = store({ retentionDays: 30 });
    await s.start();
    const old = NOW - 100 * DAY - (NOW % DAY); // a day boundary 100 days back
    const pts = Array.from({ length: 48 }, (_, i) => reading({ ts: old + i * 30 * 60_000, seq: i, metrics: { groundwater_level: i } }));
    await s.write(pts);
    const window = { sensor: 'well-1', metric: 'groundwater_level', from: old, to: old + DAY, windowMs: 6 * HOUR };
    const raw = await Promise.all((['mean', 'min', 'max', 'sum', 'count', 'last'] as const).map((agg) => s.range({ ...window, agg })));
    await s.prune();
    expect(await s.range({ ...window, agg: 'mean' })).toEqual([]); // raw is gone
    const fromHours = await Promise.all((['mean', 'min', 'max', 'sum', 'count', 'last'] as const).map((agg) => s.range({ ...window, agg, resolution: '1h' })));
    expect(fromHours).toEqual(raw);
    expect(await s.range({ ...window, windowMs: DAY, resolution: '1d' })).toEqual([{ ts: old, value: 23.5 }]);
    expect(await s.range({ ...window, windowMs: undefined, resolution: '1h' })).toHaveLength(24);
    await expect(s.range({ ...window, windowMs: 90 * 60_000, resolution: '1h' })).rejects.toMatchObject({ code: 'STORAGE_ERR_INVALID_QUERY' });
    // Aggregates go after their own retention.
    const later = store({ retentionDays: 30, clock: { now: () => NOW + 800 * DAY } });
    await s.stop();
    await later.start();
    await later.prune();
    expect(await later.range({ ...window, resolution: '1h' })).toEqual([]);
    expect(await later.range({ ...window, windowMs: DAY, resolution: '1d' })).toEqual([{ ts: old, value: 23.5 }]);
  });

  it('a store written before aggregates existed is summarised once on start', async () => {
    const s = store({ retentionDays: 0 });
    await s.start();
    await s.write([reading({ ts: T, metrics: { groundwater_level: 5 } })]);
    await s.stop();
    const db = new Database(s.path);
    db.exec("DELETE FROM agg_dirty; DELETE FROM agg_hour; DELETE FROM agg_day; DELETE FROM meta WHERE key = 'aggregates_since'");
    db.close();
    const b = store({ retentionDays: 0 });
    await b.start();
    expect(await b.range({ ...q, resolution: '1d' })).toEqual([{ ts: T, value: 5 }]);
  });
});
