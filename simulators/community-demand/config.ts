/** Configuration of the `community-demand` simulator (the hub's feeder meter). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

/** The demand profile itself is the hub's (environment `energy.demand*`), so the battery sees the same load. */
export const configSchema = simConfig(300, {
  /** Fraction of the community demand behind this meter. */
  share: z.number().positive().max(1).default(1),
  /** Relative standard deviation of the meter's noise. */
  noise: z.number().min(0).max(0.2).default(0.01),
});

export type Config = z.output<typeof configSchema>;
