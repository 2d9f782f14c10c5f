/**
 * Location coarsening: snapping to a grid of `step` degrees (GBIF's recommendation: round to a
 * grid, no random offsets) and geohash cells. Both return the centre of the cell, so the output
 * says no more than "somewhere in this cell".
 */

/** A latitude/longitude pair in decimal degrees (WGS 84). */
export interface LatLon {
  lat: number;
  lon: number;
}

/** Drops float noise (`0.30000000000000004` -> `0.3`) without moving a value across a cell. */
function clean(v: number): number {
  return Number(v.toFixed(9));
}

/**
 * The centre of the grid cell of `step` degrees that holds `value`, cells counted from 0°.
 * Values at the edge of the range (90°, 180°) fall in the last cell inside it, so the result is
 * always within [min, max].
 *
 * @param value - a latitude or longitude
 * @param step - cell size in degrees (> 0)
 * @param min - lower bound of the axis (-90 or -180)
 * @param max - upper bound of the axis (90 or 180)
 */
export function snapAxis(value: number, step: number, min: number, max: number): number {
  // The epsilon keeps 0.3 / 0.1 (= 2.9999999999999996) in cell 3, where it belongs.
  let idx = Math.floor(value / step + 1e-9);
  const lo = Math.floor(min / step + 1e-9);
  const hi = Math.ceil(max / step - 1e-9) - 1;
  if (idx < lo) idx = lo;
  if (idx > hi) idx = hi;
  const centre = (idx + 0.5) * step;
  return clean(Math.min(max, Math.max(min, centre)));
}

/** Snaps a location to the centre of its `step`-degree grid cell. */
export function snapToGridCell(loc: LatLon, step: number): LatLon {
  return { lat: snapAxis(loc.lat, step, -90, 90), lon: snapAxis(loc.lon, step, -180, 180) };
}

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';

/** The geohash of a location at `precision` characters (1–12). */
export function geohashEncode(loc: LatLon, precision: number): string {
  let latLo = -90;
  let latHi = 90;
  let lonLo = -180;
  let lonHi = 180;
  let hash = '';
  let bits = 0;
  let ch = 0;
  let even = true;
  while (hash.length < precision) {
    if (even) {
      const mid = (lonLo + lonHi) / 2;
      const up = loc.lon >= mid;
      ch = (ch << 1) | (up ? 1 : 0);
      if (up) lonLo = mid;
      else lonHi = mid;
    } else {
      const mid = (latLo + latHi) / 2;
      const up = loc.lat >= mid;
      ch = (ch << 1) | (up ? 1 : 0);
      if (up) latLo = mid;
      else latHi = mid;
    }
    even = !even;
    if (++bits === 5) {
      hash += BASE32[ch];
      bits = 0;
      ch = 0;
    }
  }
  return hash;
}

/** The bounding box of a geohash. Throws TypeError on a character outside the geohash alphabet. */
export function geohashBounds(hash: string): { latMin: number; latMax: number; lonMin: number; lonMax: number } {
  let latLo = -90;
  let latHi = 90;
  let lonLo = -180;
  let lonHi = 180;
  let even = true;
  for (const c of hash) {
    const v = BASE32.indexOf(c);
    if (v < 0) throw new TypeError(`invalid geohash character ${JSON.stringify(c)}`);
    for (let b = 4; b >= 0; b--) {
      const bit = (v >> b) & 1;
      if (even) {
        const mid = (lonLo + lonHi) / 2;
        if (bit) lonLo = mid;
        else lonHi = mid;
      } else {
        const mid = (latLo + latHi) / 2;
        if (bit) latLo = mid;
        else latHi = mid;
      }
      even = !even;
    }
  }
  return { latMin: latLo, latMax: latHi, lonMin: lonLo, lonMax: lonHi };
}

/** Size of a geohash cell at `precision`, degrees. */
export function geohashCellSize(precision: number): { lat: number; lon: number } {
  const bits = 5 * precision;
  const lonBits = Math.ceil(bits / 2);
  const latBits = Math.floor(bits / 2);
  return { lat: 180 / 2 ** latBits, lon: 360 / 2 ** lonBits };
}

/** Snaps a location to the centre of its geohash cell at `precision`. */
export function snapToGeohashCell(loc: LatLon, precision: number): LatLon {
  const b = geohashBounds(geohashEncode(loc, precision));
  return { lat: clean((b.latMin + b.latMax) / 2), lon: clean((b.lonMin + b.lonMax) / 2) };
}

/** Rough size of `deg` degrees of latitude, for residents ("about 1.1 km"). */
export function describeDegrees(deg: number): string {
  const km = deg * 111.32;
  if (km >= 10) return `about ${Math.round(km)} km`;
  if (km >= 1) return `about ${km.toFixed(1)} km`;
  return `about ${Math.round((km * 1000) / 10) * 10} m`;
}
