/** Configuration of the `groundwater` simulator (a pumped well with a piezometer). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

const hour = z.number().min(0).max(24);

export const configSchema = simConfig(900, {
  /** Pump rate while the pump runs, m3/h; 0 makes an observation well that reports no withdrawal. */
  pumpRateM3h: z.number().min(0).max(2000).default(30),
  /** Daily pumping windows, `[from, to)` in local clock hours. The drought scenario stretches them. */
  schedule: z
    .array(z.tuple([hour, hour]).refine(([a, b]) => a < b, 'a pumping window must end after it starts'))
    .max(12)
    .default([
      [5, 8],
      [17, 20],
    ]),
  /** Steady drawdown in the well per m3/h pumped, m (a well-efficiency figure). */
  drawdownPerM3h: z.number().min(0).max(5).default(0.08),
  /** Time constant of drawdown while pumping and of recovery afterwards, minutes. */
  responseMin: z.number().positive().max(1440).default(30),
  /** This well's head relative to the regional head (its place in the flow field), m. */
  headOffsetM: z.number().min(-100).max(100).default(0),
  /** Standard deviation of the pressure transducer's noise, m. */
  noiseM: z.number().min(0).max(1).default(0.003),
});

export type Config = z.output<typeof configSchema>;
