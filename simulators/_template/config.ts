/**
 * TEMPLATE: configuration of a simulator. Copy this folder to simulators/<your-kind>/ and edit.
 *
 * Rules for a config schema (the contract suite and fleet validation rely on them):
 * - Start from `simConfig(defaultIntervalS, { ... })`: it adds `intervalS` (simulated seconds
 *   between readings) and an optional `location`, and it is a *strict* object, so a typo in a
 *   fleet file is an error rather than a silently ignored key.
 * - Give EVERY key a default (or make it optional): `{}` must be a valid config.
 * - Document each key with its unit: the README table and `steward sim --list` show them.
 * - Hub-wide physics (sun, rain, aquifer, energy balance) belong to the Environment, not here:
 *   configure only what differs between two sensors of the same kind.
 */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(
  // Default interval: a reading every 10 simulated minutes.
  600,
  {
    /** How much the pond lags behind the air, days (a small pond reacts within a day). */
    lagDays: z.number().positive().max(30).default(0.7),
    /** Half the day-night swing of the water surface on a sunny day, °C. */
    diurnalAmplitudeC: z.number().min(0).max(10).default(1.5),
    /** Standard deviation of the probe's noise, °C. */
    noiseC: z.number().min(0).max(2).default(0.05),
  },
);

/** The validated config type your sensor receives (defaults filled in). */
export type Config = z.output<typeof configSchema>;
