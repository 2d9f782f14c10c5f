/** Configuration of the `solar` simulator (a PV inverter's meter). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(300, {
  /**
   * Fraction of the hub's PV array (environment `energy.pvCapacityW`) behind this inverter. The
   * hub battery is charged by the whole array, so the inverters of a hub should add up to 1.
   */
  share: z.number().positive().max(1).default(1),
  /**
   * A separate array that is NOT part of the hub's energy balance (e.g. a school roof), W peak.
   * When set, `share` is ignored and `tiltDeg`/`azimuthDeg` describe it.
   */
  capacityW: z.number().positive().max(1e9).optional(),
  tiltDeg: z.number().min(0).max(90).default(35),
  azimuthDeg: z.number().min(0).max(360).default(180),
  /** Relative standard deviation of the meter's noise. */
  noise: z.number().min(0).max(0.2).default(0.005),
});

export type Config = z.output<typeof configSchema>;
