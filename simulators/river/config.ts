/** Configuration of the `river` simulator (a stage gauge with a rating curve). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(900, {
  /** Fraction of the hub catchment's discharge passing this gauge (1 at the outlet). */
  catchmentShare: z.number().positive().max(1).default(1),
  /** Rating curve Q = a (h - h0)^b: coefficient a. */
  ratingA: z.number().positive().default(8),
  /** Rating curve exponent b (1.5–2.5 for natural sections). */
  ratingB: z.number().min(1).max(3).default(1.7),
  /** Rating curve h0: the stage of zero flow, m. */
  ratingH0: z.number().min(-50).max(100).default(0.15),
  /** Standard deviation of the stage sensor's noise, m. */
  noiseM: z.number().min(0).max(0.5).default(0.002),
});

export type Config = z.output<typeof configSchema>;
