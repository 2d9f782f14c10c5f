import { describe, expect, it } from 'vitest';
import { SIMULATORS } from '../simulators/index.ts';
import { demoFleet } from '../simulators/index.ts';
import { COMMONS, OVERVIEW_KINDS, otherReadings } from './src/commons.ts';
import type { Domain, LatestReading } from './src/types.ts';

const reading = (sensor: string, kind: string, domain: Domain, metric: string, value = 1): LatestReading => ({
  hub: 'demo',
  domain,
  sensor,
  site: 'somewhere',
  kind,
  metric,
  value,
  unit: 'm',
  ts: 0,
  time: new Date(0).toISOString(),
});
const commons = (d: Domain) => COMMONS.find((c) => c.domain === d) as (typeof COMMONS)[number];

/** The demo fleet's latest readings: one per sensor and metric its simulator declares. */
const demoLatest = (): LatestReading[] =>
  demoFleet('demo').flatMap((e) => (SIMULATORS[e.kind]?.metrics ?? []).map((m) => reading(e.sensor, e.kind, e.domain, m)));

describe('the overview shows every kind of sensor', () => {
  it('names only registered simulators as the kinds it presents itself', () => {
    for (const kind of OVERVIEW_KINDS) expect(Object.keys(SIMULATORS), kind).toContain(kind);
  });

  it('adds nothing for the kinds it presents itself, and a card for each reading of any other registered kind', () => {
    const latest = demoLatest();
    const extra = COMMONS.flatMap((c) => otherReadings(latest, 'demo', c));
    expect(extra.filter((r) => OVERVIEW_KINDS.has(r.kind))).toEqual([]);
    const shownElsewhere = (r: LatestReading): boolean => COMMONS.some((c) => c.stocks.some((st) => st.metric === r.metric)) || ['pv_power', 'wind_power', 'demand_power', 'count', 'confidence'].includes(r.metric);
    expect(extra).toEqual(latest.filter((r) => !OVERVIEW_KINDS.has(r.kind) && !shownElsewhere(r)).sort((a, b) => a.sensor.localeCompare(b.sensor) || a.metric.localeCompare(b.metric)));
  });

  it('gives a sensor of a new kind a card per metric in its own commons, and nowhere else', () => {
    let kind = 'new-kind';
    while (kind in SIMULATORS) kind += '-x';
    const snow = [reading('snow-1', kind, 'water', 'water_temperature', 0.5), reading('snow-1', kind, 'water', 'rainfall', 2)];
    const latest = [...demoLatest().filter((r) => OVERVIEW_KINDS.has(r.kind)), ...snow, { ...snow[0]!, hub: 'other' }];
    expect(otherReadings(latest, 'demo', commons('water')).map((r) => `${r.sensor}/${r.metric}`)).toEqual(['snow-1/rainfall', 'snow-1/water_temperature']);
    for (const d of ['soil', 'energy', 'biodiversity'] as const) expect(otherReadings(latest, 'demo', commons(d))).toEqual([]);
  });

  it('does not repeat a new kind’s reading that a stock or a card already shows', () => {
    const latest = [reading('piezo-1', 'piezometer', 'water', 'groundwater_level'), reading('pv-2', 'pv-string', 'energy', 'pv_power')];
    expect(otherReadings(latest, 'demo', commons('water'))).toEqual([]);
    expect(otherReadings(latest, 'demo', commons('energy'))).toEqual([]);
  });
});
