/**
 * Solar geometry (NOAA's simplified algorithm, after Meeus): where the sun is for a place and an
 * instant, and when it rises and sets. Accurate to a fraction of a degree, which is plenty for
 * PV output and dawn choruses.
 */

const DEG = Math.PI / 180;
const DAY_MS = 86_400_000;

export interface SunPosition {
  /** Degrees above the horizon (negative at night). */
  elevationDeg: number;
  /** Degrees clockwise from north. */
  azimuthDeg: number;
}

export interface SunTimes {
  /** Epoch ms of sunrise, solar noon and sunset around the given instant's UTC-offset day. */
  sunriseMs: number;
  solarNoonMs: number;
  sunsetMs: number;
  /** Hours of daylight (0 in polar night, 24 in midnight sun). */
  dayLengthH: number;
}

interface SolarTerms {
  declinationRad: number;
  /** Equation of time, minutes. */
  eqTimeMin: number;
}

function terms(tMs: number): SolarTerms {
  // Fractional year in radians (NOAA "General Solar Position Calculations").
  const d = new Date(tMs);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  const daysInYear = (Date.UTC(d.getUTCFullYear() + 1, 0, 1) - start) / DAY_MS;
  const g = ((2 * Math.PI) / daysInYear) * ((tMs - start) / DAY_MS);
  const eqTimeMin =
    229.18 * (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g));
  const declinationRad =
    0.006918 -
    0.399912 * Math.cos(g) +
    0.070257 * Math.sin(g) -
    0.006758 * Math.cos(2 * g) +
    0.000907 * Math.sin(2 * g) -
    0.002697 * Math.cos(3 * g) +
    0.00148 * Math.sin(3 * g);
  return { declinationRad, eqTimeMin };
}

/** Sun elevation and azimuth at `tMs` for a latitude and longitude in degrees (east positive). */
export function sunPosition(tMs: number, latDeg: number, lonDeg: number): SunPosition {
  const { declinationRad: dec, eqTimeMin } = terms(tMs);
  const utcMin = (((tMs % DAY_MS) + DAY_MS) % DAY_MS) / 60_000;
  const trueSolarMin = utcMin + eqTimeMin + 4 * lonDeg;
  const hourAngle = (trueSolarMin / 4 - 180) * DEG;
  const lat = latDeg * DEG;
  const cosZen = Math.sin(lat) * Math.sin(dec) + Math.cos(lat) * Math.cos(dec) * Math.cos(hourAngle);
  const zen = Math.acos(Math.max(-1, Math.min(1, cosZen)));
  const elevationDeg = 90 - zen / DEG;
  // Azimuth from north, clockwise.
  const sinZen = Math.sin(zen);
  let azimuthDeg = 180;
  if (sinZen > 1e-9) {
    const cosAz = (Math.sin(lat) * Math.cos(zen) - Math.sin(dec)) / (Math.cos(lat) * sinZen);
    const a = Math.acos(Math.max(-1, Math.min(1, cosAz))) / DEG;
    azimuthDeg = hourAngle > 0 ? (a + 180) % 360 : (540 - a) % 360;
  }
  return { elevationDeg, azimuthDeg };
}

/**
 * Sunrise, solar noon and sunset for the calendar day (at `utcOffsetH`) that contains `tMs`.
 * Sunrise and sunset are for the standard -0.833° (refraction and the sun's radius).
 */
export function sunTimes(tMs: number, latDeg: number, lonDeg: number, utcOffsetH: number): SunTimes {
  const offsetMs = utcOffsetH * 3_600_000;
  const dayStartUtc = Math.floor((tMs + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
  const { declinationRad: dec, eqTimeMin } = terms(dayStartUtc + DAY_MS / 2);
  const lat = latDeg * DEG;
  const noonUtcMin = 720 - 4 * lonDeg - eqTimeMin;
  // Solar noon on the day in local terms: the UTC day may differ from the local one.
  const localDayUtcStart = Math.floor((dayStartUtc + offsetMs) / DAY_MS) * DAY_MS;
  let solarNoonMs = localDayUtcStart + noonUtcMin * 60_000;
  if (solarNoonMs < dayStartUtc) solarNoonMs += DAY_MS;
  if (solarNoonMs >= dayStartUtc + DAY_MS) solarNoonMs -= DAY_MS;
  const cosH = (Math.cos(90.833 * DEG) - Math.sin(lat) * Math.sin(dec)) / (Math.cos(lat) * Math.cos(dec));
  let halfDayMin: number;
  if (cosH >= 1) halfDayMin = 0; // polar night
  else if (cosH <= -1) halfDayMin = 720; // midnight sun
  else halfDayMin = (4 * Math.acos(cosH)) / DEG;
  return {
    sunriseMs: solarNoonMs - halfDayMin * 60_000,
    solarNoonMs,
    sunsetMs: solarNoonMs + halfDayMin * 60_000,
    dayLengthH: (2 * halfDayMin) / 60,
  };
}
