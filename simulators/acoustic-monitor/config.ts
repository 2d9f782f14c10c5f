/** Configuration of the `acoustic-monitor` simulator (an autonomous sound recorder with a classifier). */
import { z } from 'zod';
import { simConfig } from '../define.ts';

export const configSchema = simConfig(600, {
  /** Habitat of the site: selects the species that can occur there. */
  habitat: z.enum(['woodland', 'wetland', 'upland', 'farmland']).default('woodland'),
  /** How many of the habitat's calling species occur at this site. */
  poolSize: z.number().int().min(1).max(200).default(40),
  /** Detections per day at the height of the spring chorus (fewer in winter, and under species-decline). */
  detectionsPerDay: z.number().min(0).max(100_000).default(400),
  /** Exponent of the Zipf-like rank-abundance curve (about 1 for bird communities). */
  zipfExponent: z.number().min(0).max(3).default(1.1),
  /** Share of detections that are misclassifications of species not at the site (low confidence). */
  falsePositiveRate: z.number().min(0).max(0.5).default(0.02),
});

export type Config = z.output<typeof configSchema>;
