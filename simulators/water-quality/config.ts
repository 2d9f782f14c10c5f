/** Configuration of the `water-quality` simulator (a multiparameter sonde in the river). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(900, {
  /** Turbidity at baseflow, NTU. */
  baseTurbidityNtu: z.number().min(0).max(1000).default(4),
  /** Nitrate at baseflow in winter, mg/l (as NO3). */
  baseNitrateMgL: z.number().min(0).max(500).default(7),
  /** pH at baseflow before dawn. */
  basePh: z.number().min(4).max(10).default(7.5),
  /** Time constant with which the river follows the daily-mean air temperature, days. */
  thermalLagDays: z.number().positive().max(30).default(2),
});

export type Config = z.output<typeof configSchema>;
