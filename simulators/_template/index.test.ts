/**
 * TEMPLATE: every simulator's test file runs the shared contract suite, then the physics a user
 * would check by eye, stated in plain words in each test's name.
 */
import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { createSensor } from '../define.ts';
import { createEnvironment } from '../environment.ts';
import template from './index.ts';

// Schema + parsePayload validity, determinism, seq/ts order, gaps, 60 days in range.
runSimulatorContract('template', sensorFactory(template));

describe('template physics', () => {
  it('follows the seasons: the pond is warmer in July than in January', () => {
    const mean = (from: number): number => {
      const environment = createEnvironment({ hub: 'h', seed: 1, startMs: from });
      const sensor = createSensor(template, { id: 'pond-1', hub: 'h', seed: 1, environment });
      let sum = 0;
      let n = 0;
      for (let t = from + 600_000; t <= from + 14 * 86_400_000; t += 600_000, n++) sum += sensor.next(t)[0]?.metrics.water_temperature as number;
      return sum / n;
    };
    expect(mean(Date.UTC(2024, 6, 1)) - mean(Date.UTC(2024, 0, 1))).toBeGreaterThan(6);
  });
});
