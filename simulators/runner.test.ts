import { describe, expect, it } from 'vitest';
import { dataTopic } from '../core/topics.ts';
import { demoFleet } from './fleet.ts';
import { createSimRunner, generate } from './runner.ts';

const DAY = 86_400_000;

describe('generate (offline)', () => {
  const from = Date.UTC(2024, 4, 1);
  const run = (seed: number) => [...generate(demoFleet('demo'), seed, from, from + DAY / 2, { hub: 'demo' })];

  it('yields every sensor\'s readings in time order on its data topic', () => {
    const msgs = run(1);
    const sensors = new Set(msgs.map((m) => m.sensor));
    expect(sensors.size).toBeGreaterThanOrEqual(19); // the citizen stream may be quiet at night
    let last = 0;
    const firstTs = new Map<string, number>();
    for (const m of msgs) {
      expect(m.topic).toBe(dataTopic({ hub: 'demo', domain: m.domain, sensor: m.sensor }));
      if (m.domain !== 'biodiversity') {
        expect(m.payload.ts).toBeGreaterThanOrEqual(last);
        last = m.payload.ts;
      }
      if (!firstTs.has(m.sensor)) firstTs.set(m.sensor, m.payload.ts);
    }
    // Readings align to whole intervals: a 15-minute sensor reads at :00, :15, :30, :45.
    expect(msgs.filter((m) => m.sensor === 'well-1').every((m) => m.payload.ts % 900_000 === 0)).toBe(true);
  });

  it('is reproducible: same seed and start, the same bytes', () => {
    expect(JSON.stringify(run(5))).toBe(JSON.stringify(run(5)));
    expect(JSON.stringify(run(6))).not.toBe(JSON.stringify(run(5)));
  });

  it('overrides every interval when asked', () => {
    const msgs = [...generate(demoFleet('demo').slice(0, 3), 1, from, from + 3_600_000, { intervalS: 600 })];
    expect(msgs.filter((m) => m.sensor === 'well-1')).toHaveLength(7);
  });
});

describe('createSimRunner (validation, no network)', () => {
  const base = {
    brokerUrl: 'mqtt://127.0.0.1:1',
    hub: 'demo',
    fleet: demoFleet('demo'),
    credentials: () => ({ username: 'x', password: 'y' }),
    seed: 1,
    speed: 60,
  };

  it('accepts a valid setup without connecting', () => {
    const r = createSimRunner(base);
    expect(r.stats().published).toBe(0);
    expect(r.simulation).toBeUndefined();
  });

  it('refuses what would break at run time, with coded errors', () => {
    expect(() => createSimRunner({ ...base, scenario: 'zombies' })).toThrow(expect.objectContaining({ code: 'SIM_ERR_UNKNOWN_SCENARIO' }));
    expect(() => createSimRunner({ ...base, speed: 0 })).toThrow(expect.objectContaining({ code: 'SIM_ERR_CONFIG' }));
    expect(() => createSimRunner({ ...base, startTime: Date.now() + DAY })).toThrow(/future/);
    expect(() => createSimRunner({ ...base, intervalS: 0.5 })).toThrow(expect.objectContaining({ code: 'SIM_ERR_CONFIG' }));
    expect(() => createSimRunner({ ...base, fleet: [...base.fleet, base.fleet[0]!] })).toThrow(expect.objectContaining({ code: 'SIM_ERR_DUPLICATE_SENSOR' }));
  });
});
