/**
 * The storage contract suite: every `ReadingStore` (embedded SQLite, InfluxDB v1, …) must pass it
 * with the same answers. Call `runStoreContract(name, factory)` from a test file; the factory
 * returns a fresh, started, empty store for each test and a `close` that stops it and removes what
 * it created.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS } from '../core/catalogue.ts';
import type { LatestEntry, ReadingStore, StoredReading } from '../core/store.ts';

export interface StoreUnderTest {
  store: ReadingStore;
  close(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

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

    it('aggregates: hourly and daily buckets answer windowed ranges as raw points do, and downsampling again changes nothing', async () => {
      const store = await open();
      const d0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY; // a UTC day three days back
      // well-1: every 20 minutes for two days (value = index); gauge-2 on day one only.
      const well = Array.from({ length: 144 }, (_, i) => reading({ ts: d0 + i * 20 * MINUTE, seq: i, metrics: { groundwater_level: i, water_temperature: 10 + (i % 7) } }));
      const gauge = Array.from({ length: 24 }, (_, i) => reading({ sensor: 'gauge-2', site: 'river', kind: 'gauge', ts: d0 + i * HOUR + 5 * MINUTE, seq: i, metrics: { river_stage: i / 4 } }));
      expect((await store.write([...well, ...gauge])).written).toBe(168);
      const first = await store.downsample();
      expect(first.hours).toBeGreaterThanOrEqual(48 + 24);
      expect(first.days).toBeGreaterThanOrEqual(3);
      const q = { hub: 'hub-a', sensor: 'well-1', metric: 'groundwater_level', from: d0, to: d0 + 2 * DAY };
      const aggs = ['mean', 'min', 'max', 'sum', 'count', 'last'] as const;
      const answers = async (): Promise<unknown> => ({
        hourly: await Promise.all(aggs.map((agg) => store.range({ ...q, windowMs: 6 * HOUR, agg, resolution: '1h' }))),
        daily: await Promise.all(aggs.map((agg) => store.range({ ...q, windowMs: DAY, agg, resolution: '1d' }))),
      });
      const raw = {
        hourly: await Promise.all(aggs.map((agg) => store.range({ ...q, windowMs: 6 * HOUR, agg }))),
        daily: await Promise.all(aggs.map((agg) => store.range({ ...q, windowMs: DAY, agg }))),
      };
      expect(raw.daily[0]).toEqual([
        { ts: d0, value: 35.5 },
        { ts: d0 + DAY, value: 107.5 },
      ]);
      const before = await answers();
      expect(before).toEqual(raw);
      // Running it again, and redelivering the readings, leaves every bucket as it was.
      await store.downsample();
      await store.write(well.slice(0, 10));
      await store.downsample();
      expect(await answers()).toEqual(before);
      // The bucket size is the default window; limit applies to buckets.
      expect(await store.range({ ...q, resolution: '1h' })).toHaveLength(48);
      expect(await store.range({ ...q, resolution: '1h', agg: 'max', limit: 2 })).toEqual([
        { ts: d0, value: 2 },
        { ts: d0 + HOUR, value: 5 },
      ]);
      expect(await store.range({ ...q, sensor: 'gauge-2', metric: 'river_stage', resolution: '1d', agg: 'count' })).toEqual([{ ts: d0, value: 24 }]);
      await expect(store.range({ ...q, windowMs: 30 * MINUTE, resolution: '1h' })).rejects.toMatchObject({ code: 'STORAGE_ERR_INVALID_QUERY' });
    });

    it('aggregates: a late reading and a rewritten value are summarised again', async () => {
      const store = await open();
      const h = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
      await store.write([reading({ ts: h, metrics: { groundwater_level: 1 } }), reading({ ts: h + MINUTE, metrics: { groundwater_level: 2 } })]);
      const q = { sensor: 'well-1', metric: 'groundwater_level', from: h, to: h + HOUR, resolution: '1h' as const };
      expect(await store.range({ ...q, agg: 'sum' })).toEqual([{ ts: h, value: 3 }]);
      await store.write([reading({ ts: h + MINUTE, metrics: { groundwater_level: 5 } }), reading({ ts: h + 30 * MINUTE, metrics: { groundwater_level: 10 } })]);
      expect(await store.range({ ...q, agg: 'sum' })).toEqual([{ ts: h, value: 16 }]);
      expect(await store.range({ ...q, agg: 'count' })).toEqual([{ ts: h, value: 3 }]);
      expect(await store.range({ ...q, agg: 'last' })).toEqual([{ ts: h, value: 10 }]);
    });

    it('aggregates: species per site and day, whatever the species is called', async () => {
      const store = await open();
      const d0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
      const nasty = 'Turdus merula "x", a=b \\ back\\slash\nnew line \\';
      const bio = (sensor: string, site: string, ts: number, species: string, count: number): StoredReading =>
        reading({ domain: 'biodiversity', sensor, site, kind: 'acoustic', ts, species, metrics: { count, confidence: 0.9 } });
      await store.write([
        bio('mic-1', 'hedge', d0 + HOUR, 'Parus major', 2),
        bio('mic-1', 'hedge', d0 + 2 * HOUR, 'Parus major', 1),
        bio('mic-2', 'hedge', d0 + 3 * HOUR, nasty, 1),
        bio('mic-3', 'mire', d0 + 4 * HOUR, 'Parus major', 3),
        bio('mic-1', 'hedge', d0 + DAY + HOUR, 'Erithacus rubecula', 1),
      ]);
      await store.write([bio('mic-1', 'hedge', d0 + HOUR, 'Parus major', 2)]); // redelivered
      const view = (c: { hub: string; site: string; species: string; day: number; detections: number; individuals: number }): unknown[] => [c.hub, c.site, c.day - d0, c.species, c.detections, c.individuals];
      expect((await store.speciesCounts({ from: d0, to: d0 + 2 * DAY })).map(view)).toEqual([
        ['hub-a', 'hedge', 0, 'Parus major', 2, 3],
        ['hub-a', 'hedge', 0, nasty, 1, 1],
        ['hub-a', 'hedge', DAY, 'Erithacus rubecula', 1, 1],
        ['hub-a', 'mire', 0, 'Parus major', 1, 3],
      ]);
      expect((await store.speciesCounts({ hub: 'hub-a', site: 'mire', from: d0, to: d0 + DAY })).map(view)).toEqual([['hub-a', 'mire', 0, 'Parus major', 1, 3]]);
      expect(await store.speciesCounts({ hub: 'hub-b', from: d0, to: d0 + 2 * DAY })).toEqual([]);
    });

    it('latest also finds a sensor silent for days beside ones heard from just now', async () => {
      const store = await open();
      const t = baseTime();
      await store.write([reading({ sensor: 'old-well', ts: t - 5 * DAY, metrics: { groundwater_level: 7 } }), reading({ ts: t, metrics: { groundwater_level: 1 } })]);
      expect((await store.latest({})).map((e) => [e.sensor, e.value, e.ts])).toEqual([
        ['old-well', 7, t - 5 * DAY],
        ['well-1', 1, t],
      ]);
      expect((await store.latest({ sensor: 'old-well' })).map((e) => e.value)).toEqual([7]);
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
