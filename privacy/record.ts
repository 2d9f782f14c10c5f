/**
 * What leaves the hub: a filtered record, rebuilt field by field from an allow-list (so nothing a
 * raw reading might carry, such as `location.acc` or an unknown key, can ride along), after a last
 * check that it did pass the boundary. Used by the public publisher and the upstream publisher.
 */
import { ATTRIBUTES, metricDef } from '../core/catalogue.ts';
import { isDomain, isId } from '../core/ids.ts';
import type { StoredReading } from '../core/store.ts';
import { PrivacyError } from './errors.ts';
import { FREE_TEXT_ATTRIBUTES } from './filters/types.ts';
import { PSEUDONYM_PATTERN } from './keys.ts';
import { scrubText } from './scrub.ts';

/** A record as published on `public/v1/...`, upstream and by the public API. */
export interface PublicRecord {
  hub: string;
  domain: string;
  sensor: string;
  site: string;
  kind: string;
  /** Epoch ms (possibly rounded by the policy). */
  ts: number;
  /** The same, ISO 8601 UTC. */
  time: string;
  seq: number;
  metrics: Record<string, number>;
  species?: string;
  location?: { lat: number; lon: number };
  attributes?: Record<string, string | number | boolean>;
  /** Version of the privacy policy that produced the record. */
  policy: string;
}

function refuse(message: string): never {
  throw new PrivacyError('PRIVACY_ERR_UNFILTERED', message);
}

/**
 * Checks that a record went through the boundary and rebuilds it from known fields only.
 *
 * @throws PrivacyError `PRIVACY_ERR_UNFILTERED` (no policy version, a personal metric, a personal
 *   attribute that is neither a pseudonym nor scrubbed free text, malformed ids) — the message names
 *   the field, never its value
 */
export function toPublicRecord(r: StoredReading): PublicRecord {
  if (typeof r.policy !== 'string' || r.policy === '') refuse('record carries no policy version: it did not pass the privacy boundary');
  if (!isId(r.hub) || !isId(r.sensor) || !isId(r.site) || !isId(r.kind) || !isDomain(r.domain)) refuse('record has an invalid hub, sensor, site, kind or domain');
  if (!Number.isSafeInteger(r.ts)) refuse('record ts is not integer epoch ms');
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.metrics ?? {})) {
    const def = metricDef(k);
    if (!def) refuse(`unknown metric ${JSON.stringify(k.slice(0, 64))}`);
    if (def.personal) refuse(`personal metric ${k} in a record`);
    if (typeof v !== 'number' || !Number.isFinite(v)) refuse(`metric ${k} is not a finite number`);
    metrics[k] = v;
  }
  if (Object.keys(metrics).length === 0) refuse('record has no metrics');
  const out: PublicRecord = { hub: r.hub, domain: r.domain, sensor: r.sensor, site: r.site, kind: r.kind, ts: r.ts, time: new Date(r.ts).toISOString(), seq: r.seq, metrics, policy: r.policy };
  if (r.species !== undefined) out.species = String(r.species);
  if (r.location) {
    const { lat, lon } = r.location;
    if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) refuse('record location is malformed');
    out.location = { lat, lon };
  }
  if (r.attributes) {
    const attrs: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(r.attributes)) {
      const def = Object.prototype.hasOwnProperty.call(ATTRIBUTES, k) ? ATTRIBUTES[k] : undefined;
      if (!def) refuse(`unknown attribute ${JSON.stringify(k.slice(0, 64))}`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') refuse(`attribute ${k} is not a string, number or boolean`);
      if (def.personal) {
        if (FREE_TEXT_ATTRIBUTES.has(k)) {
          if (scrubText(String(v), [], { namePatterns: true }).removed > 0) refuse(`attribute ${k} still holds personal details (scrubbing it again would remove something)`);
        } else if (typeof v !== 'string' || !PSEUDONYM_PATTERN.test(v)) refuse(`personal attribute ${k} is not pseudonymised`);
      }
      attrs[k] = v;
    }
    if (Object.keys(attrs).length) out.attributes = attrs;
  }
  return out;
}
