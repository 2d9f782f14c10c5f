/**
 * Reading payloads (docs/contract.md "Payloads"). The zod schemas here are the single source of truth:
 * ingest validates with them and `steward schema` generates JSON Schema from them.
 */
import { z } from 'zod';
import { ATTRIBUTES } from './catalogue.ts';
import { type Domain, idSchema } from './ids.ts';

/** Sensor timestamp: ISO 8601 with a zone, or epoch milliseconds. */
export const timestampSchema = z.union([
  z.iso.datetime({ offset: true }),
  z.number().int().min(946684800000, 'epoch ms before 2000-01-01').max(4102444800000, 'epoch ms after 2100-01-01'),
]);

/** A metric value: a number in the canonical unit, or `{ value, unit }` to be converted. */
export const metricValueSchema = z.union([
  z.number(),
  z.strictObject({ value: z.number(), unit: z.string().min(1).max(32) }),
]);

export const locationSchema = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  alt: z.number().optional(),
  /** Horizontal accuracy in metres. */
  acc: z.number().nonnegative().optional(),
});
export type Location = z.infer<typeof locationSchema>;

const attributeValue = z.union([z.string().max(1024), z.number(), z.boolean()]);

/** Known attributes only: an unknown attribute could be personal, so it is refused (fail closed). */
export const attributesSchema = z
  .record(z.string(), attributeValue)
  .superRefine((attrs, ctx) => {
    for (const [k, v] of Object.entries(attrs)) {
      const def = Object.prototype.hasOwnProperty.call(ATTRIBUTES, k) ? ATTRIBUTES[k] : undefined;
      if (!def) ctx.addIssue({ code: 'custom', path: [k], message: `unknown attribute "${k}"` });
      else if (typeof v !== def.type) ctx.addIssue({ code: 'custom', path: [k], message: `attribute "${k}" must be a ${def.type}` });
    }
  });

/** Native JSON reading, one per message. */
export const nativeReadingSchema = z.strictObject({
  ts: timestampSchema,
  seq: z.number().int().nonnegative(),
  site: idSchema.optional(),
  kind: idSchema.optional(),
  metrics: z.record(z.string(), metricValueSchema).refine((o) => Object.keys(o).length > 0, 'at least one metric is required'),
  /** Biodiversity: scientific name of the detected or observed taxon. */
  species: z.string().min(1).max(200).optional(),
  location: locationSchema.optional(),
  attributes: attributesSchema.optional(),
});
export type NativeReading = z.infer<typeof nativeReadingSchema>;

/** SenML record (RFC 8428 §4.1–4.5), as JSON. */
export const senmlRecordSchema = z.strictObject({
  bn: z.string().max(256).optional(),
  bt: z.number().optional(),
  bu: z.string().max(32).optional(),
  bv: z.number().optional(),
  bs: z.number().optional(),
  bver: z.number().int().optional(),
  n: z.string().max(256).optional(),
  u: z.string().max(32).optional(),
  v: z.number().optional(),
  vs: z.string().max(1024).optional(),
  vb: z.boolean().optional(),
  vd: z.string().optional(),
  s: z.number().optional(),
  t: z.number().optional(),
  ut: z.number().optional(),
});
export const senmlPackSchema = z.array(senmlRecordSchema).min(1).max(1000);

/** A validated reading in canonical units: what ingest spools, stores and hands to rules. */
export interface Reading {
  hub: string;
  domain: Domain;
  sensor: string;
  /** Storage tag: where the sensor stands (defaults to the sensor's registered site, else the sensor id). */
  site: string;
  /** Storage tag: what sort of sensor (piezometer, meter, acoustic…); defaults to the domain. */
  kind: string;
  /** Sensor timestamp, epoch milliseconds. */
  ts: number;
  /** Sensor sequence number (per sensor, increasing); -1 when the payload had none (SenML). */
  seq: number;
  /** Numeric metrics in canonical units. */
  metrics: Record<string, number>;
  species?: string;
  location?: Location;
  attributes?: Record<string, string | number | boolean>;
}

/**
 * A species detection: a biodiversity record naming its species. What the console's species tally
 * counts, and so what the forwarder's thread hands back for it.
 */
export function isSpeciesDetection<T extends { domain: string; species?: string | undefined }>(r: T): r is T & { species: string } {
  return r.domain === 'biodiversity' && typeof r.species === 'string' && r.species !== '';
}

/** Zod schema of the normalised reading (used where readings cross a process boundary). */
export const readingSchema = z.strictObject({
  hub: idSchema,
  domain: z.enum(['water', 'soil', 'energy', 'biodiversity']),
  sensor: idSchema,
  site: idSchema,
  kind: idSchema,
  ts: z.number().int(),
  seq: z.number().int(),
  metrics: z.record(z.string(), z.number()),
  species: z.string().optional(),
  location: locationSchema.optional(),
  attributes: z.record(z.string(), attributeValue).optional(),
});
