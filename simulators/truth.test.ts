import { describe, expect, it } from 'vitest';
import { createFleetSimulation, demoFleet } from './fleet.ts';
import { SCENARIOS } from './scenarios.ts';
import { groundTruth } from './truth.ts';

const DAY = 86_400_000;
const START = Date.UTC(2025, 4, 1);

describe('ground truth', () => {
  it('drought: the pumped wells really fall, and well-2 (0.6 m lower) reaches 39 m within 60 days; in normal weather it does not', () => {
    const opts = { hub: 'demo', fleet: demoFleet('demo'), seed: 42, fromMs: START, toMs: START + 60 * DAY };
    const dry = groundTruth({ ...opts, scenario: 'drought' });
    const normal = groundTruth({ ...opts, scenario: 'normal' });
    const at = dry.crossesBelow('well-2', 'groundwater_level', 39);
    expect(at).toBeGreaterThan(START + 7 * DAY);
    expect(at).toBeLessThan(START + 60 * DAY);
    expect(normal.crossesBelow('well-2', 'groundwater_level', 39)).toBeUndefined();
    expect(dry.crossesBelow('well-2', 'river_stage', 39)).toBeUndefined(); // only well levels are known
    // Extraction against regeneration: the drought pumps 2.5× and nothing recharges after the first days.
    const late = dry.days.slice(20, -1); // the last day is the run's last instant only
    expect(late.every((d) => d.pumpedM3 > 1500 && d.rechargeM3 < d.pumpedM3 / 10)).toBe(true);
    expect(dry.days.at(-1)!.wellMeanM['well-1']).toBeLessThan(dry.days[2]!.wellMeanM['well-1']! - 1);
  });

  it('sensor-failure: the faults are those the fleet really applies, with their times', () => {
    const fleet = demoFleet('demo');
    const truth = groundTruth({ hub: 'demo', fleet, seed: 42, scenario: 'sensor-failure', fromMs: START, toMs: START + DAY });
    const sim = createFleetSimulation({ hub: 'demo', fleet, seed: 42, startMs: START, scenario: 'sensor-failure' });
    expect(truth.faults.map((f) => [f.sensor, f.mode, f.atMs])).toEqual(sim.sensors.filter((s) => s.fault).map((s) => [s.entry.sensor, s.fault!.mode, START + s.fault!.afterMs]));
    expect(truth.faults.length).toBeGreaterThanOrEqual(3);
  });

  it('every scenario declares what it must raise and for how long to run it; normal weather declares nothing', () => {
    expect(SCENARIOS.normal?.expect).toEqual([]);
    for (const s of Object.values(SCENARIOS)) {
      expect(s.backtestDays, s.name).toBeGreaterThan(0);
      for (const e of s.expect) {
        expect(e.window[0], `${s.name} ${e.rule}`).toBeLessThanOrEqual(e.window[1]);
        expect(e.window[1], `${s.name} ${e.rule}`).toBeLessThanOrEqual(s.backtestDays);
        expect(e.because.length).toBeGreaterThan(10);
      }
      if (s.name !== 'normal') expect(s.expect.filter((e) => !e.optional).length, s.name).toBeGreaterThan(0);
    }
  });
});
