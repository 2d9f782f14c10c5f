/** Configuration of the `wind` simulator (a small wind turbine's meter). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(300, {
  /** Fraction of the hub's wind capacity (environment `energy.windRatedW`) behind this meter. */
  share: z.number().positive().max(1).default(1),
  /** Relative standard deviation of the meter's noise. */
  noise: z.number().min(0).max(0.2).default(0.01),
});

export type Config = z.output<typeof configSchema>;
