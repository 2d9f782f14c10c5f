/** Configuration of the `rain-gauge` simulator (a tipping-bucket gauge). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(300, {
  /** Rain per bucket tip, mm (0.2 is the common size). */
  tipMm: z.number().positive().max(5).default(0.2),
  /** Catch efficiency relative to the true rainfall (wind undercatch makes it a little below 1). */
  catchFactor: z.number().positive().max(1.5).default(0.97),
});

export type Config = z.output<typeof configSchema>;
