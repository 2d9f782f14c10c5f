import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApi, type TestApi } from '../../testing.ts';
import type { SensorState } from '../../context.ts';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const MIN = 60_000;

describe('GET /api/v1/sensors', () => {
  let t: TestApi | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function fleet(extra: Parameters<typeof makeTestApi>[0] = {}): Promise<TestApi> {
    t = await makeTestApi({ clock: { now: () => NOW }, ...extra });
    await t.registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', password: 'password-1', site: 'north', kind: 'piezometer' });
    await t.registry.addSensor({ hub: 'demo', domain: 'energy', sensor: 'battery', password: 'password-2' });
    await t.registry.addSensor({ hub: 'demo', domain: 'soil', sensor: 'probe-never', password: 'password-3' });
    await t.registry.addSensor({ hub: 'east', domain: 'water', sensor: 'gauge', password: 'password-4' });
    await t.seed([
      { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', ts: NOW - 5 * MIN, seq: 1, metrics: { groundwater_level: 9, water_temperature: 11 } },
      { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer', ts: NOW - 2 * MIN, seq: 2, metrics: { groundwater_level: 9 } },
      // Heard from an hour ago: past the 15 min online window.
      { hub: 'demo', domain: 'energy', sensor: 'battery', site: 'shed', kind: 'bms', ts: NOW - 60 * MIN, seq: 1, metrics: { battery_soc: 50 } },
    ]);
    return t;
  }

  it('lists registered sensors with last seen (epoch ms and ISO) and online from recent data', async () => {
    const api = await fleet();
    const r = await api.app.inject('/api/v1/sensors');
    expect(r.statusCode).toBe(200);
    const { sensors } = r.json() as { sensors: Array<Record<string, unknown>> };
    expect(sensors).toHaveLength(4);
    expect(sensors.find((s) => s.sensor === 'well-1')).toEqual({
      hub: 'demo', domain: 'water', sensor: 'well-1', site: 'north', kind: 'piezometer',
      lastSeen: NOW - 2 * MIN, lastSeenTime: '2024-06-01T11:58:00.000Z', online: true, onlineSource: 'recent-data',
    });
    // Site and kind come from the data when the registration has none.
    expect(sensors.find((s) => s.sensor === 'battery')).toMatchObject({ site: 'shed', kind: 'bms', lastSeen: NOW - 60 * MIN, online: false });
    expect(sensors.find((s) => s.sensor === 'probe-never')).toMatchObject({ site: null, kind: null, lastSeen: null, lastSeenTime: null, online: false });
  });

  it('filters by hub and domain', async () => {
    const api = await fleet();
    const byHub = (await api.app.inject('/api/v1/sensors?hub=east')).json() as { sensors: Array<{ sensor: string }> };
    expect(byHub.sensors.map((s) => s.sensor)).toEqual(['gauge']);
    const byDomain = (await api.app.inject('/api/v1/sensors?hub=demo&domain=water')).json() as { sensors: Array<{ sensor: string }> };
    expect(byDomain.sensors.map((s) => s.sensor)).toEqual(['well-1']);
  });

  it('takes online from the MQTT status when the broker knows it', async () => {
    const states = new Map<string, SensorState>([
      ['demo.well-1', { state: 'offline', ts: NOW - MIN }],
      ['demo.probe-never', { state: 'online', ts: NOW - MIN }],
    ]);
    const api = await fleet({ extra: { sensorStatus: () => states } });
    const { sensors } = (await api.app.inject('/api/v1/sensors?hub=demo')).json() as { sensors: Array<{ sensor: string; online: boolean; onlineSource: string }> };
    const by = Object.fromEntries(sensors.map((s) => [s.sensor, [s.online, s.onlineSource]]));
    expect(by).toEqual({ 'well-1': [false, 'status'], 'probe-never': [true, 'status'], battery: [false, 'recent-data'] });
  });

  it('uses the configured online window', async () => {
    const api = await fleet({ extra: { onlineWindowMs: 2 * 3_600_000 } });
    const { sensors } = (await api.app.inject('/api/v1/sensors?hub=demo&domain=energy')).json() as { sensors: Array<{ online: boolean }> };
    expect(sensors[0]?.online).toBe(true);
  });

  it('names a bad filter', async () => {
    const api = await fleet();
    const r = await api.app.inject('/api/v1/sensors?hub=Demo!');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'API_ERR_VALIDATION', parameter: 'hub', message: expect.stringMatching(/^query parameter "hub": must match/) });
  });
});
