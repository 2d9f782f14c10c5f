import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeDegrees, geohashBounds, geohashCellSize, geohashEncode, snapAxis, snapToGeohashCell, snapToGridCell } from './geo.ts';

describe('grid snapping', () => {
  it('returns the centre of the cell, cells counted from 0°', () => {
    expect(snapToGridCell({ lat: 51.50735, lon: -0.12776 }, 0.01)).toEqual({ lat: 51.505, lon: -0.125 });
    expect(snapToGridCell({ lat: 51.50735, lon: -0.12776 }, 0.2)).toEqual({ lat: 51.5, lon: -0.1 });
    // 0.3 / 0.1 is 2.9999999999999996 in floating point: still cell 3
    expect(snapAxis(0.3, 0.1, -90, 90)).toBe(0.35);
  });

  it('keeps the edges of the range inside it', () => {
    expect(snapToGridCell({ lat: 90, lon: 180 }, 0.2)).toEqual({ lat: 89.9, lon: 179.9 });
    expect(snapToGridCell({ lat: -90, lon: -180 }, 0.2)).toEqual({ lat: -89.9, lon: -179.9 });
    expect(snapAxis(90, 0.7, -90, 90)).toBeLessThanOrEqual(90);
    expect(snapAxis(90, 180, -90, 90)).toBe(90);
  });

  it('property: every output is a cell centre within one cell of the input, and snapping is idempotent', () => {
    fc.assert(
      fc.property(fc.double({ min: -90, max: 90, noNaN: true }), fc.constantFrom(0.001, 0.01, 0.05, 0.1, 0.2, 0.25, 1), (v, step) => {
        const s = snapAxis(v, step, -90, 90);
        const k = s / step - 0.5;
        expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
        expect(Math.abs(s - v)).toBeLessThanOrEqual(step / 2 + 1e-9);
        expect(snapAxis(s, step, -90, 90)).toBe(s);
      }),
    );
  });
});

describe('geohash', () => {
  it('encodes the reference point (Wikipedia: u4pruydqqvj)', () => {
    expect(geohashEncode({ lat: 57.64911, lon: 10.40744 }, 11)).toBe('u4pruydqqvj');
    expect(() => geohashBounds('u4a')).toThrow(TypeError);
  });

  it('cell sizes halve as expected', () => {
    expect(geohashCellSize(1)).toEqual({ lat: 45, lon: 45 });
    expect(geohashCellSize(5).lat).toBeCloseTo(0.0439, 4);
  });

  it('property: the cell centre lies in the same cell, and the input within half a cell of it', () => {
    fc.assert(
      fc.property(fc.double({ min: -90, max: 89.999, noNaN: true }), fc.double({ min: -180, max: 179.999, noNaN: true }), fc.integer({ min: 1, max: 9 }), (lat, lon, p) => {
        const c = snapToGeohashCell({ lat, lon }, p);
        expect(geohashEncode(c, p)).toBe(geohashEncode({ lat, lon }, p));
        const size = geohashCellSize(p);
        expect(Math.abs(c.lat - lat)).toBeLessThanOrEqual(size.lat / 2 + 1e-9);
        expect(Math.abs(c.lon - lon)).toBeLessThanOrEqual(size.lon / 2 + 1e-9);
      }),
    );
  });
});

it('describes sizes for residents', () => {
  expect(describeDegrees(0.01)).toBe('about 1.1 km');
  expect(describeDegrees(0.2)).toBe('about 22 km');
  expect(describeDegrees(0.001)).toBe('about 110 m');
});
