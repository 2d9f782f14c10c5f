import { describe, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/log.ts';
import { MIN, reading, T0 } from './testing.ts';
import { WindowStore } from './windows.ts';

const store = (): WindowStore => new WindowStore({ log: silentLogger, metrics: undefined });

describe('window store', () => {
  it('learns each sensor’s usual arrival gap (EWMA), a long outage moving it at most 4×', () => {
    const w = store();
    const r = reading('soil-1', T0, { soil_moisture: 0.3 });
    w.arrived(r, T0);
    w.arrived(r, T0 + 10 * MIN);
    expect(w.seen.get('demo/soil-1')?.gap).toBe(10 * MIN);
    w.arrived(r, T0 + 20 * MIN);
    expect(w.seen.get('demo/soil-1')?.gap).toBe(10 * MIN);
    w.arrived(r, T0 + 20 * MIN + 1000 * MIN);
    expect(w.seen.get('demo/soil-1')?.gap).toBeCloseTo(0.8 * 10 * MIN + 0.2 * 40 * MIN);
  });

  it('a registered sensor not heard from counts as never seen, from the given time; a heard one is left alone', () => {
    const w = store();
    w.arrived(reading('a', T0, { battery_soc: 50 }), T0 + 5);
    w.registered({ hub: 'demo', sensor: 'a', site: 'a', domain: 'energy' }, T0);
    w.registered({ hub: 'demo', sensor: 'b', site: 'b', domain: 'energy' }, T0);
    expect(w.seen.get('demo/a')).toMatchObject({ at: T0 + 5 });
    expect(w.seen.get('demo/b')).toMatchObject({ at: T0, never: true });
  });

  it('keeps the newest point; a late one does not replace it', () => {
    const w = store();
    expect(w.setLatest('demo/a/battery_soc', T0 + 10, 1)).toBe(true);
    expect(w.setLatest('demo/a/battery_soc', T0, 2)).toBe(false);
    expect(w.latest.get('demo/a/battery_soc')).toEqual({ ts: T0 + 10, value: 1 });
  });

  it('detections stay in time order, the same time and species replaces, and older than the span is refused', () => {
    const w = store();
    const span = 100;
    expect(w.addDetection('demo/m', { ts: 50, species: 'wren', count: 1 }, span, T0)).toBe(true);
    expect(w.addDetection('demo/m', { ts: 40, species: 'robin', count: 1 }, span, T0)).toBe(true);
    expect(w.addDetection('demo/m', { ts: 50, species: 'wren', count: 3 }, span, T0)).toBe(true);
    expect(w.addDetection('demo/m', { ts: 200, species: 'tit', count: 1 }, span, T0)).toBe(true);
    expect(w.addDetection('demo/m', { ts: 10, species: 'jay', count: 1 }, span, T0)).toBe(false);
    expect(w.detections.get('demo/m')).toEqual([{ ts: 200, species: 'tit', count: 1 }]);
    const v = store();
    for (const [ts, species, count] of [[50, 'wren', 1], [40, 'robin', 1], [50, 'wren', 3]] as const) v.addDetection('demo/m', { ts, species, count }, span, T0);
    expect(v.detections.get('demo/m')?.map((d) => `${d.ts}:${d.species}:${d.count}`)).toEqual(['40:robin:1', '50:wren:3']);
  });

  it('after a restart, silence counts from the start unless a deadman alert holds the sensor', () => {
    const w = store();
    const row = (sensor: string) => ({ hub: 'demo', sensor, site: sensor, domain: 'energy' as const, at: T0, gap: null });
    w.restoreSeen([row('held'), row('free')], T0 + 60 * MIN, (r) => r.sensor === 'held');
    expect(w.seen.get('demo/held')?.at).toBe(T0);
    expect(w.seen.get('demo/free')?.at).toBe(T0 + 60 * MIN);
  });
});
