/**
 * Configuration of the `household-meter` simulator (one home's smart meter). Unset keys are
 * drawn from the sensor's seed, so every household of a fleet is different but reproducible.
 */
import { z } from 'zod';
import { idSchema } from '../../core/ids.ts';
import { locationSchema } from '../../core/reading.ts';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(60, {
  /** Household id sent as the personal attribute `household_id`, e.g. `hh-0042`. */
  householdId: z.string().regex(/^hh-\d{4}$/, 'must look like hh-0042').optional(),
  /** Neighbourhood or feeder area sent as the attribute `area`. */
  area: idSchema.default('north'),
  /** The home's exact coordinate (personal); default a seeded point within 1.5 km of the hub. */
  home: locationSchema.optional(),
  occupants: z.number().int().min(1).max(8).optional(),
  /** Heated by a heat pump or storage heaters. */
  electricHeating: z.boolean().optional(),
  /** Has an electric car charged at home. */
  electricVehicle: z.boolean().optional(),
  /** Has an electric shower (8.5 kW for a few minutes: the tallest spike of a British home). */
  electricShower: z.boolean().optional(),
  /** Out at work or school on weekdays from 08:30 to 17:00. */
  awayOnWeekdays: z.boolean().optional(),
});

export type Config = z.output<typeof configSchema>;
