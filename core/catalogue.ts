/**
 * The metric catalogue: every metric the pipeline accepts, with its one canonical unit, its domain,
 * a plausible range and whether it is personal. Units are SenML registry symbols (RFC 8428 §12.1)
 * where the registry has one; conversions from other units live in `units.ts`.
 */
import type { Domain } from './ids.ts';

export interface MetricDef {
  /** Metric name as it appears in payloads, storage fields and the API. */
  name: string;
  domain: Domain;
  /** Canonical unit; values are stored in it. */
  unit: string;
  description: string;
  /** Inclusive plausible range in the canonical unit; values outside are rejected. */
  min: number;
  max: number;
  /** Whole numbers only (counts). */
  integer?: boolean;
  /** Personal data (e.g. one household's load): never leaves the privacy boundary unfiltered. */
  personal?: boolean;
}

const m = (
  name: string,
  domain: Domain,
  unit: string,
  min: number,
  max: number,
  description: string,
  extra: Partial<MetricDef> = {},
): MetricDef => ({ name, domain, unit, min, max, description, ...extra });

/** All metrics, by name. A metric name belongs to exactly one domain. */
export const METRICS: Readonly<Record<string, MetricDef>> = Object.freeze(
  Object.fromEntries(
    [
      // water: stock = aquifer head / river stage; inflow = rainfall, discharge; outflow = withdrawal
      m('groundwater_level', 'water', 'm', -1000, 10000, 'Aquifer head, metres above datum'),
      m('river_stage', 'water', 'm', -100, 1000, 'River stage (water surface height at the gauge)'),
      m('discharge', 'water', 'm3/s', 0, 100000, 'River discharge'),
      m('withdrawal', 'water', 'm3', 0, 1e7, "Volume withdrawn over the reading's interval"),
      m('rainfall', 'water', 'mm', 0, 2000, "Rainfall over the reading's interval"),
      m('turbidity', 'water', 'NTU', 0, 10000, 'Turbidity'),
      m('nitrate', 'water', 'mg/l', 0, 10000, 'Nitrate concentration'),
      m('dissolved_oxygen', 'water', 'mg/l', 0, 100, 'Dissolved oxygen'),
      m('ph', 'water', 'pH', 0, 14, 'Acidity'),
      m('water_temperature', 'water', 'Cel', -5, 100, 'Water temperature'),
      // soil carbon
      m('soil_organic_carbon', 'soil', '%', 0, 100, 'Soil organic carbon, mass fraction'),
      m('soil_moisture', 'soil', 'm3/m3', 0, 1, 'Volumetric soil water content'),
      m('soil_temperature', 'soil', 'Cel', -60, 80, 'Soil temperature'),
      m('co2_flux', 'soil', 'umol/m2/s', -500, 500, 'Soil CO2 flux (positive = out of the soil)'),
      // energy
      m('pv_power', 'energy', 'W', 0, 1e9, 'Photovoltaic generation'),
      m('wind_power', 'energy', 'W', 0, 1e9, 'Wind generation'),
      m('battery_soc', 'energy', '%', 0, 100, 'Battery state of charge'),
      m('battery_energy', 'energy', 'Wh', 0, 1e10, 'Energy stored in the battery'),
      m('demand_power', 'energy', 'W', 0, 1e9, 'Community demand'),
      m('household_power', 'energy', 'W', 0, 1e6, "One household's demand (personal)", { personal: true }),
      // biodiversity: one detection or observation of `species` per reading
      m('count', 'biodiversity', 'count', 0, 1e6, 'Individuals detected or observed', { integer: true }),
      m('confidence', 'biodiversity', '/', 0, 1, 'Detection confidence (0–1)'),
    ].map((d) => [d.name, Object.freeze(d)]),
  ),
);

/** Metric names of one domain, in catalogue order. */
export function metricsOf(domain: Domain): MetricDef[] {
  return Object.values(METRICS).filter((d) => d.domain === domain);
}

/** The catalogue entry for `name`, or undefined (prototype keys never match). */
export function metricDef(name: string): MetricDef | undefined {
  return Object.prototype.hasOwnProperty.call(METRICS, name) ? METRICS[name] : undefined;
}

/**
 * Attributes a reading may carry besides its metrics. `personal` attributes are stripped by the
 * privacy filters; anything not listed here is rejected at ingest (fail closed).
 */
export const ATTRIBUTES: Readonly<Record<string, { description: string; personal: boolean; type: 'string' | 'number' | 'boolean' }>> =
  Object.freeze({
    observer_name: { description: "Citizen observer's name", personal: true, type: 'string' },
    observer_email: { description: "Citizen observer's email", personal: true, type: 'string' },
    observer_phone: { description: "Citizen observer's phone", personal: true, type: 'string' },
    household_id: { description: 'Household meter id', personal: true, type: 'string' },
    area: { description: 'Neighbourhood or feeder area for aggregation', personal: false, type: 'string' },
    method: { description: 'Detection method (acoustic, camera, visual, trap, edna)', personal: false, type: 'string' },
    note: { description: 'Free-text note (scrubbed of contact details before publication)', personal: true, type: 'string' },
    firmware: { description: 'Device firmware version', personal: false, type: 'string' },
    battery_v: { description: 'Device battery voltage', personal: false, type: 'number' },
    at_home: { description: 'Location is at a private home', personal: false, type: 'boolean' },
  });
