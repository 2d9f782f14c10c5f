/**
 * Identifiers and domains of the v1 contract (docs/contract.md "MQTT topics").
 * Hub, sensor and site ids are an allow-list, so they can never break a topic, a line of
 * InfluxDB line protocol or an InfluxQL string.
 */
import { z } from 'zod';

/** Hub, sensor, site and kind ids: lower-case ASCII letters, digits, `_` and `-`, 1–64 characters. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The four commons a hub stewards. */
export const DOMAINS = ['water', 'soil', 'energy', 'biodiversity'] as const;
export type Domain = (typeof DOMAINS)[number];

export const idSchema = z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9_-]{0,63}$');
export const domainSchema = z.enum(DOMAINS);

/** True when `s` is a valid hub, sensor, site or kind id. */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_PATTERN.test(s);
}

export function isDomain(s: unknown): s is Domain {
  return typeof s === 'string' && (DOMAINS as readonly string[]).includes(s);
}
