import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import rainGauge from './index.ts';

runSimulatorContract('rain-gauge', sensorFactory(rainGauge));

describe('rain-gauge physics', () => {
  it('reports whole bucket tips that add up to the storms it stood under (less the undercatch)', () => {
    const from = Date.UTC(2024, 9, 1);
    const to = from + 60 * 86_400_000;
    const environment = createEnvironment({ hub: 'h', seed: 5, startMs: from });
    const gauge = createSensor(rainGauge, { id: 'rain-1', hub: 'h', seed: 1, environment, config: { catchFactor: 1 } });
    let total = 0;
    let wetReadings = 0;
    for (let t = from + 300_000; t <= to; t += 300_000) {
      const mm = gauge.next(t)[0]?.metrics.rainfall as number;
      expect(Math.abs(mm / 0.2 - Math.round(mm / 0.2))).toBeLessThan(1e-6);
      total += mm;
      if (mm > 0) wetReadings++;
    }
    const truth = environment.rainfall(from, to);
    expect(truth).toBeGreaterThan(50); // an autumn in the Dales
    expect(Math.abs(total - truth)).toBeLessThan(0.2 + 1e-6);
    expect(wetReadings).toBeGreaterThan(100);
  });

  it('agrees with a second gauge at the hub to within a few per cent (same storms)', () => {
    const from = Date.UTC(2024, 9, 1);
    const environment = createEnvironment({ hub: 'h', seed: 5, startMs: from });
    const a = createSensor(rainGauge, { id: 'rain-a', hub: 'h', seed: 1, environment });
    const b = createSensor(rainGauge, { id: 'rain-b', hub: 'h', seed: 2, environment, config: { intervalS: 900 } });
    let sa = 0;
    let sb = 0;
    for (let t = from + 900_000; t <= from + 30 * 86_400_000; t += 900_000) {
      for (let k = 2; k >= 0; k--) sa += a.next(t - k * 300_000)[0]?.metrics.rainfall as number;
      sb += b.next(t)[0]?.metrics.rainfall as number;
    }
    expect(Math.abs(sa - sb)).toBeLessThan(0.4 + 1e-6);
  });
});
