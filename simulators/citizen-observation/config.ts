/** Configuration of the `citizen-observation` simulator (a community recording app's stream). */
import { z } from 'zod';
import { locationSchema } from '../../core/reading.ts';
import { simConfig } from '../define.ts';

/** A volunteer recorder. Names, emails and phone numbers are personal data. */
export const observerSchema = z.strictObject({
  name: z.string().min(1).max(100),
  email: z.email().max(200),
  phone: z.string().max(40).optional(),
  /** 0 (beginner) – 1 (expert): sets how sure their identifications are. */
  expertise: z.number().min(0).max(1).default(0.5),
});

export const configSchema = simConfig(3600, {
  /** Mean observations per weekday (twice as many at weekends), in daylight. */
  observationsPerDay: z.number().min(0).max(1000).default(3),
  /** The recorders; default a seeded handful of fictional people (example.org emails, Ofcom drama phone numbers). */
  observers: z.array(observerSchema).min(1).max(500).optional(),
  /** Observations fall within this distance of the hub, km. */
  radiusKm: z.number().positive().max(100).default(3),
  /**
   * The colony of the threatened orchid *Cypripedium calceolus*; default a seeded spot 1–2 km from
   * the hub. While it flowers (late May to June) this share of observations are of it, with exact
   * coordinates.
   */
  orchidColony: locationSchema.optional(),
  sensitiveShare: z.number().min(0).max(1).default(0.12),
  /** Share of observations with a free-text note, and of notes that give a phone number or email. */
  noteShare: z.number().min(0).max(1).default(0.35),
  contactInNoteShare: z.number().min(0).max(1).default(0.4),
});

export type Config = z.output<typeof configSchema>;
export type Observer = z.output<typeof observerSchema>;
