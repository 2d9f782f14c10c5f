/** Configuration of the `soil` simulator (a soil probe and respiration chamber at one site). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(1800, {
  /** Depth of the moisture and temperature probe, cm. */
  depthCm: z.number().positive().max(100).default(10),
  /** Volumetric water content at field capacity, m3/m3. */
  fieldCapacity: z.number().min(0.05).max(0.6).default(0.32),
  /** Volumetric water content at the wilting point, m3/m3. */
  wiltingPoint: z.number().min(0.01).max(0.4).default(0.12),
  /** Volumetric water content at saturation (porosity), m3/m3. */
  saturation: z.number().min(0.1).max(0.7).default(0.46),
  /** Thickness of the soil layer the probe sees, mm. */
  layerMm: z.number().positive().max(1000).default(150),
  /** Fraction of the water above field capacity that drains per hour. */
  drainagePerH: z.number().positive().max(1).default(0.15),
  /** Soil organic carbon at the start, % (mass fraction, top 30 cm). */
  initialSocPct: z.number().min(0.1).max(60).default(3.2),
  /** Dry bulk density, g/cm3. */
  bulkDensity: z.number().min(0.1).max(2).default(1.25),
  /** Carbon added by litter and roots, g C/m2/year (regenerative management adds more). */
  carbonInputGm2yr: z.number().min(0).max(5000).default(340),
  /** Soil respiration at 10 °C and ideal moisture, umol CO2/m2/s. */
  r10: z.number().positive().max(50).default(2.4),
  /** Temperature sensitivity of respiration. */
  q10: z.number().min(1).max(5).default(2.2),
  /** Share of soil respiration that decomposes soil organic matter (the rest is roots). */
  heterotrophicShare: z.number().min(0).max(1).default(0.55),
}).refine((c) => c.wiltingPoint < c.fieldCapacity && c.fieldCapacity < c.saturation, 'need wiltingPoint < fieldCapacity < saturation');

export type Config = z.output<typeof configSchema>;
