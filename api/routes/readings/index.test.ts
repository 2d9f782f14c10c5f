import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApi, type TestApi } from '../../testing.ts';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('readings', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await makeTestApi({ clock: { now: () => NOW } });
    await t.registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', password: 'password-1', site: 'north' });
    await t.registry.addSensor({ hub: 'demo', domain: 'energy', sensor: 'battery', password: 'password-2' });
    await t.registry.addSensor({ hub: 'other', domain: 'water', sensor: 'well-1', password: 'password-3' });
    // well-1 of demo: one reading a minute for the last hour, level falling 1 cm a minute.
    await t.seed(
      Array.from({ length: 60 }, (_, i) => ({ hub: 'demo', domain: 'water' as const, sensor: 'well-1', site: 'north', kind: 'piezometer', ts: NOW - (60 - i) * MIN, seq: i, metrics: { groundwater_level: 10 - i * 0.01, water_temperature: 11 } })),
    );
    await t.seed([
      { hub: 'demo', domain: 'energy', sensor: 'battery', site: 'battery', kind: 'energy', ts: NOW - 2 * MIN, seq: 1, metrics: { battery_soc: 80 } },
      { hub: 'other', domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'water', ts: NOW - 10 * MIN, seq: 1, metrics: { groundwater_level: 3 } },
      // Older than the default 24 h window.
      { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', ts: NOW - 30 * 3_600_000, seq: 0, metrics: { groundwater_level: 12 } },
    ]);
  });
  afterAll(() => t.close());

  describe('GET /api/v1/readings/latest', () => {
    it('gives the newest value of every sensor and metric with its unit', async () => {
      const r = await t.app.inject('/api/v1/readings/latest');
      expect(r.statusCode).toBe(200);
      const { readings } = r.json() as { readings: Array<Record<string, unknown>> };
      expect(readings).toHaveLength(4);
      expect(readings).toContainEqual({
        hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', metric: 'groundwater_level',
        value: expect.closeTo(9.41, 6), unit: 'm', ts: NOW - MIN, time: new Date(NOW - MIN).toISOString(),
      });
      expect(readings.find((e) => e.metric === 'battery_soc')).toMatchObject({ value: 80, unit: '%' });
    });

    it('filters by hub, domain and sensor', async () => {
      const hub = (await t.app.inject('/api/v1/readings/latest?hub=other')).json() as { readings: Array<{ hub: string }> };
      expect(hub.readings.map((e) => e.hub)).toEqual(['other']);
      const dom = (await t.app.inject('/api/v1/readings/latest?domain=energy')).json() as { readings: Array<{ metric: string }> };
      expect(dom.readings.map((e) => e.metric)).toEqual(['battery_soc']);
      const sen = (await t.app.inject('/api/v1/readings/latest?hub=demo&sensor=well-1')).json() as { readings: Array<{ metric: string }> };
      expect(sen.readings.map((e) => e.metric).sort()).toEqual(['groundwater_level', 'water_temperature']);
    });

    it('names a bad filter', async () => {
      const r = await t.app.inject('/api/v1/readings/latest?domain=air');
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'API_ERR_VALIDATION', parameter: 'domain' });
      expect(r.json().message).toMatch(/query parameter "domain".*"air".*water, soil, energy, biodiversity/);
    });
  });

  describe('GET /api/v1/readings', () => {
    it('returns raw points of the last 24 h by default, oldest first', async () => {
      const r = await t.app.inject('/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level');
      expect(r.statusCode).toBe(200);
      const body = r.json();
      expect(body).toMatchObject({ hub: 'demo', sensor: 'well-1', metric: 'groundwater_level', unit: 'm', from: NOW - 86_400_000, to: NOW, window: null, agg: null, resolution: 'raw', truncated: false });
      expect(body.toTime).toBe('2024-06-01T12:00:00.000Z');
      expect(body.points).toHaveLength(60);
      expect(body.points[0]).toEqual({ ts: NOW - 60 * MIN, time: new Date(NOW - 60 * MIN).toISOString(), value: 10 });
    });

    it('accepts ISO times and epoch ms for from and to', async () => {
      const iso = await t.app.inject(`/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&from=2024-06-01T11:50:00Z&to=${NOW}`);
      expect(iso.statusCode).toBe(200);
      expect(iso.json().points).toHaveLength(10);
    });

    it('aggregates into windows', async () => {
      const r = await t.app.inject('/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&from=2024-06-01T11:00:00Z&to=2024-06-01T12:00:00Z&window=30m&agg=max');
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ window: '30m', agg: 'max' });
      expect(r.json().points).toEqual([
        { ts: NOW - 60 * MIN, time: '2024-06-01T11:00:00.000Z', value: 10 },
        { ts: NOW - 30 * MIN, time: '2024-06-01T11:30:00.000Z', value: expect.closeTo(9.7, 6) },
      ]);
      const count = await t.app.inject('/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&from=2024-06-01T11:00:00Z&to=2024-06-01T12:00:00Z&window=1h&agg=count');
      expect(count.json().points).toEqual([{ ts: NOW - 60 * MIN, time: '2024-06-01T11:00:00.000Z', value: 60 }]);
      const mean = await t.app.inject('/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&from=2024-06-01T11:00:00Z&to=2024-06-01T12:00:00Z&window=1h');
      expect(mean.json()).toMatchObject({ agg: 'mean', points: [{ value: expect.closeTo(9.705, 6) }] });
    });

    it('cuts the series at limit and says so', async () => {
      const r = await t.app.inject('/api/v1/readings?hub=demo&sensor=well-1&metric=groundwater_level&limit=5');
      expect(r.json()).toMatchObject({ truncated: true });
      expect(r.json().points).toHaveLength(5);
    });

    it('keeps hubs apart', async () => {
      const r = await t.app.inject('/api/v1/readings?hub=other&sensor=well-1&metric=groundwater_level');
      expect(r.json().points.map((p: { value: number }) => p.value)).toEqual([3]);
    });

    it.each([
      ['sensor=well-1', 'metric', /query parameter "metric": is required/],
      ['metric=groundwater_level', 'sensor', /query parameter "sensor": is required/],
      ['sensor=well-1&metric=rain', 'metric', /unknown metric "rain"; see \/api\/v1\/catalogue/],
      ['sensor=Well 1&metric=ph', 'sensor', /query parameter "sensor": must match/],
      ['hub=demo&sensor=well-1&metric=ph&from=yesterday', 'from', /query parameter "from": "yesterday" is neither an ISO 8601 date-time nor epoch milliseconds/],
      ['sensor=well-1&metric=ph&from=2024-06-01T12:00:00Z&to=2024-06-01T11:00:00Z', 'from', /"from" \(2024-06-01T12:00:00.000Z\) must be before "to"/],
      ['sensor=well-1&metric=ph&window=5 minutes', 'window', /query parameter "window": .* must be a whole number and a unit/],
      ['sensor=well-1&metric=ph&window=100ms', 'window', /between 1s and 31d/],
      ['sensor=well-1&metric=ph&window=1s', 'window', /86400 windows between "from" and "to"; at most 10000/],
      ['sensor=well-1&metric=ph&agg=max', 'agg', /query parameter "agg": needs a "window"/],
      ['sensor=well-1&metric=ph&window=1h&agg=median', 'agg', /unknown aggregation "median"/],
      ['sensor=well-1&metric=ph&limit=0', 'limit', /query parameter "limit": must be at least 1/],
      ['sensor=well-1&metric=ph&limit=20000', 'limit', /must be at most 10000/],
      ['sensor=well-1&metric=ph&colour=red', 'colour', /unknown query parameter "colour"/],
      ['sensor=well-1&metric=groundwater_level', 'hub', /sensor "well-1" exists in hubs demo, other: say which with "hub"/],
      ['hub=demo&sensor=battery&metric=groundwater_level', 'metric', /groundwater_level is a water metric, but sensor "battery" is in domain energy/],
    ])('refuses %s naming %s', async (qs, parameter, message) => {
      const r = await t.app.inject(`/api/v1/readings?${qs.replace(/ /g, '%20')}`);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'API_ERR_VALIDATION', parameter });
      expect(r.json().message).toMatch(message);
    });

    it('answers 404 for a sensor that is neither registered nor in storage', async () => {
      const r = await t.app.inject('/api/v1/readings?sensor=ghost&metric=ph');
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ code: 'API_ERR_NOT_FOUND', message: expect.stringContaining('sensor "ghost"') });
    });

    it('answers a one-year range from the daily aggregates, and says so', async () => {
      // soil-1 of demo: one reading every 6 hours for 400 days; the value is the day number.
      await t.registry.addSensor({ hub: 'demo', domain: 'soil', sensor: 'soil-1', password: 'password-4' });
      const day0 = Math.floor(NOW / DAY) * DAY - 400 * DAY;
      await t.seed(Array.from({ length: 1600 }, (_, i) => ({ hub: 'demo', domain: 'soil' as const, sensor: 'soil-1', site: 'meadow', kind: 'soil', ts: day0 + i * 6 * HOUR, seq: i, metrics: { soil_moisture: Math.floor(i / 4) } })));
      const from = Math.floor(NOW / DAY) * DAY - 365 * DAY;
      const base = `/api/v1/readings?hub=demo&sensor=soil-1&metric=soil_moisture&from=${from}&to=${NOW}`;
      const year = await t.app.inject(base);
      expect(year.statusCode).toBe(200);
      const body = year.json() as { resolution: string; window: string; agg: string; truncated: boolean; points: Array<{ ts: number; value: number }> };
      expect(body).toMatchObject({ resolution: '1d', window: '1d', agg: 'mean', truncated: false });
      expect(body.points).toHaveLength(365);
      expect(body.points[0]).toMatchObject({ ts: from, value: 35 });
      // Weekly maxima, from the hourly buckets when asked for them, the same as from raw readings.
      const weekly = (await t.app.inject(`${base}&window=7d&agg=max&resolution=1h`)).json() as { resolution: string; points: unknown[] };
      const raw = (await t.app.inject(`${base}&window=7d&agg=max&resolution=raw`)).json() as { resolution: string; points: unknown[] };
      expect([weekly.resolution, raw.resolution]).toEqual(['1h', 'raw']);
      expect(weekly.points).toEqual(raw.points);
      // auto picks daily buckets for a long range with a whole-day window.
      expect((await t.app.inject(`${base}&window=7d&agg=max`)).json()).toMatchObject({ resolution: '1d', points: weekly.points });
      // A short, recent range stays raw.
      expect((await t.app.inject(`/api/v1/readings?hub=demo&sensor=soil-1&metric=soil_moisture&from=${NOW - 2 * DAY}&to=${NOW}`)).json()).toMatchObject({ resolution: 'raw', window: null });
      const bad = await t.app.inject(`${base}&window=90m&resolution=1h`);
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ parameter: 'window', message: expect.stringMatching(/whole number of hours/) });
    });

    it('serves daily species counts per site, limited to the hubs of the token', async () => {
      await t.registry.addSensor({ hub: 'demo', domain: 'biodiversity', sensor: 'mic-1', password: 'password-5' });
      const day = Math.floor(NOW / DAY) * DAY - 200 * DAY;
      const bio = (ts: number, species: string, count: number) => ({ hub: 'demo', domain: 'biodiversity' as const, sensor: 'mic-1', site: 'mire', kind: 'acoustic', ts, seq: 1, species, metrics: { count } });
      await t.seed([bio(day + HOUR, 'Parus major', 2), bio(day + 2 * HOUR, 'Parus major', 1), bio(day + 3 * HOUR, 'Erithacus rubecula', 1)]);
      const r = await t.app.inject('/api/v1/readings/species?site=mire');
      expect(r.statusCode).toBe(200);
      expect(r.json().counts).toEqual([
        { hub: 'demo', site: 'mire', species: 'Erithacus rubecula', day, date: new Date(day).toISOString().slice(0, 10), detections: 1, individuals: 1 },
        { hub: 'demo', site: 'mire', species: 'Parus major', day, date: new Date(day).toISOString().slice(0, 10), detections: 2, individuals: 3 },
      ]);
      expect((await t.app.inject(`/api/v1/readings/species?site=mire&from=${day + DAY}`)).json().counts).toEqual([]);
      expect((await t.app.inject('/api/v1/readings/species?hub=other')).json().counts).toEqual([]);
    });

    it('answers an empty series for a registered sensor without data in the range', async () => {
      const r = await t.app.inject('/api/v1/readings?hub=demo&sensor=well-1&metric=ph');
      expect(r.statusCode).toBe(200);
      expect(r.json().points).toEqual([]);
    });
  });
});
