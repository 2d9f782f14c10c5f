/**
 * The storage contract suite: every `ReadingStore` (embedded SQLite, InfluxDB v1, …) must pass it
 * with the same answers. Call `runStoreContract(name, factory)` from a test file; the factory
 * returns a fresh, started, empty store for each test and a `close` that stops it and removes what
 * it created.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS } from '../core/catalogue.ts';
import type { LatestEntry, ReadingStore, StoredReading } from '../storage/types.ts';

export interface StoreUnderTest {
  store: ReadingStore;
  close(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** An hour boundary two hours ago: recent enough for any retention, aligned for window tests. */
function baseTime(): number {
  return Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
}

function reading(over: Partial<StoredReading> & Pick<StoredReading, 'ts'>): StoredReading {
  return { hub: 'hub-a', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', seq: 1, metrics: { groundwater_level: 1 }, ...over };
}

/** The fields the contract compares (unit, tags, value, ts, species). */
function view(e: LatestEntry): Record<string, unknown> {
  return { hub: e.hub, domain: e.domain, sensor: e.sensor, site: e.site, kind: e.kind, metric: e.metric, value: e.value, unit: e.unit, ts: e.ts, species: e.species };
}

export function runStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`ReadingStore contract: ${name}`, () => {
    let current: StoreUnderTest | undefined;
    const open = async (): Promise<ReadingStore> => {
      current = await factory();
      return current.store;
    };
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    it('after writes, latest has one entry per sensor and metric: the newest value, with the catalogue unit', async () => {
      const store = await open();
      const t = baseTime();
      const out = await store.write([
        reading({ ts: t, seq: 1, metrics: { groundwater_level: 10, water_temperature: 8 } }),
        reading({ ts: t + MINUTE, seq: 2, metrics: { groundwater_level: 11, water_temperature: 8.5 } }),
        reading({ sensor: 'gauge-2', site: 'river', kind: 'gauge', ts: t + 30_000, metrics: { river_stage: 1.25, discharge: 3.5 } }),
      ]);
      expect(out).toEqual({ written: 3, rejected: [] });
      // A late, older reading must not replace the newest value.
      expect(await store.write([reading({ ts: t - MINUTE, seq: 0, metrics: { groundwater_level: 99 } })])).toEqual({ written: 1, rejected: [] });

      const latest = await store.latest({});
      expect(latest.map(view)).toEqual([
        { hub: 'hub-a', domain: 'water', sensor: 'gauge-2', site: 'river', kind: 'gauge', metric: 'discharge', value: 3.5, unit: 'm3/s', ts: t + 30_000, species: undefined },
        { hub: 'hub-a', domain: 'water', sensor: 'gauge-2', site: 'river', kind: 'gauge', metric: 'river_stage', value: 1.25, unit: 'm', ts: t + 30_000, species: undefined },
        { hub: 'hub-a', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', metric: 'groundwater_level', value: 11, unit: 'm', ts: t + MINUTE, species: undefined },
        { hub: 'hub-a', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', metric: 'water_temperature', value: 8.5, unit: 'Cel', ts: t + MINUTE, species: undefined },
      ]);
      for (const e of latest) expect(e.unit).toBe(METRICS[e.metric]?.unit);
    });

    it('writing the same reading again (same sensor timestamp) overwrites it: no duplicate', async () => {
      const store = await open();
      const t = baseTime() + 5 * MINUTE;
      await store.write([reading({ ts: t, metrics: { groundwater_level: 5 } })]);
      await store.write([reading({ ts: t, metrics: { groundwater_level: 5 } })]);
      await store.write([reading({ ts: t, metrics: { groundwater_level: 6 } })]);
      const points = await store.range({ sensor: 'well-1', metric: 'groundwater_level', from: t - HOUR, to: t + HOUR });
      expect(points).toEqual([{ ts: t, value: 6 }]);
      const latest = await store.latest({ sensor: 'well-1' });
      expect(latest.map((e) => [e.metric, e.value, e.ts])).toEqual([['groundwater_level', 6, t]]);
    });

    it('range returns raw points in [from, to) and epoch-aligned windows with the known aggregates', async () => {
      const store = await open();
      const t = baseTime(); // a multiple of one minute
      const series: Array<[number, number]> = [
        [t, 1],
        [t + 10_000, 2],
        [t + 30_000, 6], // window 0: 1, 2, 6
        [t + 60_000, 10], // window 1: 10
        // window 2 empty: left out
        [t + 190_000, 4], // window 3: 4
      ];
      const out = await store.write(series.map(([ts, v], i) => reading({ ts, seq: i, metrics: { groundwater_level: v } })));
      expect(out.written).toBe(5);
      const q = { hub: 'hub-a', sensor: 'well-1', metric: 'groundwater_level', from: t, to: t + 200_000 };

      expect(await store.range(q)).toEqual(series.map(([ts, value]) => ({ ts, value })));
      expect(await store.range({ ...q, from: t + 10_000, to: t + 60_000 })).toEqual([
        { ts: t + 10_000, value: 2 },
        { ts: t + 30_000, value: 6 },
      ]);
      expect(await store.range({ ...q, limit: 2 })).toEqual([
        { ts: t, value: 1 },
        { ts: t + 10_000, value: 2 },
      ]);
      expect(await store.range({ ...q, from: t + 10, to: t + 10 })).toEqual([]);

      const w = (agg: 'mean' | 'min' | 'max' | 'sum' | 'last' | 'count') => store.range({ ...q, windowMs: MINUTE, agg });
      const at = (v: number[]): Array<{ ts: number; value: number }> => [t, t + MINUTE, t + 3 * MINUTE].map((ts, i) => ({ ts, value: v[i] as number }));
      expect(await w('mean')).toEqual(at([3, 10, 4]));
      expect(await w('min')).toEqual(at([1, 10, 4]));
      expect(await w('max')).toEqual(at([6, 10, 4]));
      expect(await w('sum')).toEqual(at([9, 10, 4]));
      expect(await w('count')).toEqual(at([3, 1, 1]));
      expect(await w('last')).toEqual(at([6, 10, 4]));
      // mean is the default aggregation; a 2-minute window spans windows 0 and 1.
      expect(await store.range({ ...q, windowMs: 2 * MINUTE })).toEqual([
        { ts: t, value: 19 / 4 },
        { ts: t + 2 * MINUTE, value: 4 },
      ]);
    });

    it('filters latest by hub, domain and sensor, and range by hub', async () => {
      const store = await open();
      const t = baseTime();
      await store.write([
        reading({ hub: 'hub-a', sensor: 'well-1', ts: t, metrics: { groundwater_level: 1 } }),
        reading({ hub: 'hub-b', sensor: 'well-1', ts: t, metrics: { groundwater_level: 2 } }),
        reading({ hub: 'hub-a', domain: 'energy', sensor: 'pv-1', site: 'roof', kind: 'inverter', ts: t, metrics: { pv_power: 1500, battery_soc: 80 } }),
        reading({ hub: 'hub-a', domain: 'soil', sensor: 'probe-1', site: 'field', kind: 'probe', ts: t, metrics: { soil_moisture: 0.3 } }),
      ]);
      const key = (l: LatestEntry[]): string[] => l.map((e) => `${e.hub}/${e.domain}/${e.sensor}/${e.metric}=${e.value}`);
      expect(key(await store.latest({ hub: 'hub-b' }))).toEqual(['hub-b/water/well-1/groundwater_level=2']);
      expect(key(await store.latest({ domain: 'energy' }))).toEqual(['hub-a/energy/pv-1/battery_soc=80', 'hub-a/energy/pv-1/pv_power=1500']);
      expect(key(await store.latest({ sensor: 'well-1' }))).toEqual(['hub-a/water/well-1/groundwater_level=1', 'hub-b/water/well-1/groundwater_level=2']);
      expect(key(await store.latest({ hub: 'hub-a', domain: 'soil', sensor: 'probe-1' }))).toEqual(['hub-a/soil/probe-1/soil_moisture=0.3']);
      expect(await store.latest({ hub: 'hub-c' })).toEqual([]);
      expect(await store.latest({ domain: 'biodiversity' })).toEqual([]);
      const q = { sensor: 'well-1', metric: 'groundwater_level', from: t - HOUR, to: t + HOUR };
      expect(await store.range({ ...q, hub: 'hub-b' })).toEqual([{ ts: t, value: 2 }]);
      expect(await store.range({ ...q, hub: 'hub-a' })).toEqual([{ ts: t, value: 1 }]);
      expect((await store.range(q)).map((p) => p.value).sort()).toEqual([1, 2]);
    });

    it('stores and finds readings tagged with the nastiest allowed ids', async () => {
      const store = await open();
      const t = baseTime();
      const ids = { hub: '0', sensor: `${'z'.repeat(62)}-_`, site: '9-_-', kind: 'a_' };
      await store.write([reading({ ...ids, ts: t, metrics: { groundwater_level: -3.5 } })]);
      await store.write([reading({ ...ids, sensor: '0-', ts: t, metrics: { groundwater_level: 7 } })]);
      const latest = await store.latest({ hub: ids.hub, sensor: ids.sensor });
      expect(latest.map(view)).toEqual([{ ...ids, domain: 'water', metric: 'groundwater_level', value: -3.5, unit: 'm', ts: t, species: undefined }]);
      expect(await store.range({ hub: '0', sensor: ids.sensor, metric: 'groundwater_level', from: t, to: t + 1 })).toEqual([{ ts: t, value: -3.5 }]);
      expect(await store.range({ hub: '0', sensor: '0-', metric: 'groundwater_level', from: t, to: t + 1 })).toEqual([{ ts: t, value: 7 }]);
    });

    it('biodiversity: the species of the newest detection comes back with latest, whatever its characters', async () => {
      const store = await open();
      const t = baseTime();
      const nasty = 'Turdus merula "x", a=b \\ back\\slash\nnew line \\';
      const bio = (ts: number, species: string, count: number, confidence: number): StoredReading =>
        reading({ domain: 'biodiversity', sensor: 'mic-1', site: 'hedge', kind: 'acoustic', ts, species, metrics: { count, confidence }, attributes: { method: 'acoustic' }, policy: 'default-1' });
      const out = await store.write([bio(t, 'Parus major', 2, 0.8), bio(t + MINUTE, nasty, 1, 0.95)]);
      expect(out).toEqual({ written: 2, rejected: [] });
      const latest = await store.latest({ domain: 'biodiversity' });
      expect(latest.map((e) => [e.metric, e.value, e.species, e.unit])).toEqual([
        ['confidence', 0.95, nasty, '/'],
        ['count', 1, nasty, 'count'],
      ]);
      expect(await store.range({ sensor: 'mic-1', metric: 'count', from: t, to: t + HOUR, windowMs: HOUR, agg: 'sum' })).toEqual([{ ts: t, value: 3 }]);
    });

    it('refuses readings that do not fit the schema in `rejected` and stores the others', async () => {
      const store = await open();
      const t = baseTime();
      const out = await store.write([
        reading({ ts: t, metrics: { groundwater_level: 1 } }),
        reading({ ts: t, hub: 'Not An Id\\' }),
        reading({ ts: t, sensor: 'well-2', metrics: {} }),
        reading({ ts: t, sensor: 'well-3', metrics: { pv_power: 5 } }),
        reading({ ts: t + 1, metrics: { groundwater_level: 2 } }),
      ]);
      expect(out.written).toBe(2);
      expect(out.rejected.map((r) => r.index)).toEqual([1, 2, 3]);
      for (const r of out.rejected) expect(r.reason).toMatch(/id|metric/);
      expect(await store.range({ sensor: 'well-1', metric: 'groundwater_level', from: t, to: t + 2 })).toEqual([
        { ts: t, value: 1 },
        { ts: t + 1, value: 2 },
      ]);
      expect(await store.latest({ sensor: 'well-2' })).toEqual([]);
    });

    it('answers ping, accepts pipeline telemetry and an empty batch', async () => {
      const store = await open();
      expect(await store.ping()).toBe(true);
      await expect(store.writePipeline([{ ts: baseTime(), role: 'ingest', hub: 'hub-a', fields: { spool_depth: 0, stored: 12 } }])).resolves.toBeUndefined();
      await expect(store.writePipeline([{ ts: baseTime(), role: 'bad role', fields: { x: 1 } }])).resolves.toBeUndefined();
      expect(await store.write([])).toEqual({ written: 0, rejected: [] });
    });
  });
}
