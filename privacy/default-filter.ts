/**
 * The foundation's fixed fallback filter (`default-1`), for processes and tests that run without
 * a policy file. The policy-driven boundary is egress's `createPrivacyBoundary`.
 */
import { ATTRIBUTES, metricDef } from '../core/catalogue.ts';
import type { PrivacyFilter } from '../core/privacy-filter.ts';
import type { StoredReading } from '../core/store.ts';

/** Rounds a coordinate down to a grid of `step` degrees and returns the cell's centre. */
export function snapToGrid(value: number, step: number): number {
  const cell = Math.floor(value / step) * step + step / 2;
  return Number(cell.toFixed(6));
}

/**
 * Default policy `default-1`: drop personal attributes and metrics; coarsen locations to a
 * 0.01° grid (0.1° for locations at a home).
 */
export function createDefaultFilter(): PrivacyFilter {
  const version = 'default-1';
  return {
    version,
    apply(r) {
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(r.metrics)) if (!metricDef(k)?.personal) metrics[k] = v;
      if (Object.keys(metrics).length === 0) return undefined;
      const out: StoredReading = { hub: r.hub, domain: r.domain, sensor: r.sensor, site: r.site, kind: r.kind, ts: r.ts, seq: r.seq, metrics, policy: version };
      if (r.species !== undefined) out.species = r.species;
      if (r.attributes) {
        const attrs: Record<string, string | number | boolean> = {};
        for (const [k, v] of Object.entries(r.attributes)) {
          const def = Object.prototype.hasOwnProperty.call(ATTRIBUTES, k) ? ATTRIBUTES[k] : undefined;
          if (def && !def.personal) attrs[k] = v;
        }
        if (Object.keys(attrs).length) out.attributes = attrs;
      }
      if (r.location) {
        const step = r.attributes?.at_home === true ? 0.1 : 0.01;
        out.location = { lat: snapToGrid(r.location.lat, step), lon: snapToGrid(r.location.lon, step) };
      }
      return out;
    },
  };
}
