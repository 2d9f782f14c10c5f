/** Soil carbon: the carbon stock per site and its trend, CO2 flux and what it releases, moisture and temperature. */
import { alertsAnnotationQuery } from './alerts.ts';
import { type Obj, alertsAnnotation, bargauge, base, dashboard, q, redBelow, resetIds, row, ruleBand, scope, scopeVariables, seriesBy, stat, target, thresholds, timeseries, totalBy } from './kit.ts';
import { SOIL_MOISTURE } from './limits.ts';

/** g C per µmol CO2 (12.011 g/mol × 1e-6). */
const G_C_PER_UMOL = 0.000012011;

/** Soil organic carbon bands (% by mass): below 1.5 degraded, 1.5–3 moderate, above 3 good for temperate soils. */
const socThresholds = (): Obj => redBelow(1.5, 3);

export function soilCarbon(): Obj {
  resetIds();
  const w = scope();
  const panels: Obj[] = [
    row('Soil organic carbon (stock)', 0),
    timeseries({
      title: 'Soil organic carbon by site',
      description: 'Soil organic carbon, % of soil mass, mean of the sensors at each site. Bands: below 1.5% degraded, above 3% good for temperate soils.',
      gridPos: { x: 0, y: 1, w: 14, h: 9 },
      unit: 'percent',
      decimals: 2,
      thresholds: socThresholds(),
      thresholdsStyle: 'dashed',
      targets: [seriesBy(w, 'soil', 'mean("soil_organic_carbon")', 'site')],
    }),
    bargauge({
      title: 'Carbon stock now',
      description: 'Latest soil organic carbon at each site.',
      gridPos: { x: 14, y: 1, w: 10, h: 5 },
      unit: 'percent',
      decimals: 2,
      min: 0,
      max: 8,
      thresholds: socThresholds(),
      targets: [totalBy(w, 'soil', 'last("soil_organic_carbon")', 'site')],
    }),
    stat({
      title: 'Sequestration (trend)',
      description: 'Change of soil organic carbon per year at each site, from the mean daily change over the time range, in percentage points per year. Positive = the soil is gaining carbon.',
      gridPos: { x: 14, y: 6, w: 10, h: 4 },
      unit: 'suffix: pp/yr',
      decimals: 3,
      graph: false,
      thresholds: thresholds({ color: 'orange', value: null }, { color: 'green', value: 0 }),
      targets: [
        target(
          'A',
          q`SELECT mean("rate") AS "trend"
            FROM (SELECT derivative(mean("soil_organic_carbon"), 365d) AS "rate" FROM "soil" WHERE ${w} GROUP BY time(1d), "site" fill(none))
            WHERE $timeFilter GROUP BY "site"`,
          { alias: '$tag_site' },
        ),
      ],
    }),
    row('Carbon flux', 10),
    timeseries({
      title: 'Soil CO2 flux',
      description: 'CO2 leaving the soil (respiration), µmol per m² per second, by site. Positive = out of the soil; it rises with warmth and moisture.',
      gridPos: { x: 0, y: 11, w: 16, h: 8 },
      unit: 'suffix: µmol/m²/s',
      decimals: 2,
      targets: [seriesBy(w, 'soil', 'mean("co2_flux")', 'site')],
    }),
    stat({
      title: 'Carbon released over the range',
      description: 'Carbon the soil released as CO2 over the time range, grams of carbon per m² (integral of the flux × 12.011 g/mol). Compare with the sequestration trend: a soil gains carbon when plant inputs exceed this.',
      gridPos: { x: 16, y: 11, w: 8, h: 8 },
      unit: 'suffix: g C/m²',
      decimals: 1,
      graph: false,
      thresholds: thresholds(base('blue')),
      targets: [
        target(
          'A',
          q`SELECT mean("released") AS "released"
            FROM (SELECT integral("co2_flux", 1s) * ${G_C_PER_UMOL} AS "released" FROM "soil" WHERE ${w} GROUP BY "site", "sensor")
            GROUP BY "site"`,
          { alias: '$tag_site' },
        ),
      ],
    }),
    row('Soil water and temperature', 19),
    timeseries({
      title: 'Soil moisture',
      description: `Volumetric water content (m³ of water per m³ of soil); near 40% the soil is saturated. Red below ${SOIL_MOISTURE.limit * 100}%, close to the wilting point, where the \`soil-moisture-low\` alert fires if it lasts; orange until ${Math.round(SOIL_MOISTURE.clear * 1000) / 10}%, where it resolves (limits from rules/defaults).`,
      gridPos: { x: 0, y: 20, w: 12, h: 8 },
      unit: 'percentunit',
      decimals: 1,
      thresholds: ruleBand(SOIL_MOISTURE),
      thresholdsStyle: 'dashed',
      targets: [seriesBy(w, 'soil', 'mean("soil_moisture")', 'site')],
    }),
    timeseries({
      title: 'Soil temperature',
      description: 'Soil temperature at sensor depth, °C.',
      gridPos: { x: 12, y: 20, w: 12, h: 8 },
      unit: 'celsius',
      decimals: 1,
      targets: [seriesBy(w, 'soil', 'mean("soil_temperature")', 'site')],
    }),
  ];
  return dashboard({
    uid: 'steward-soil-carbon',
    title: 'Soil carbon',
    description: "The hub's soil carbon commons: the carbon stock per site and its trend, CO2 released by the soil, moisture and temperature.",
    time: { from: 'now-30d', to: 'now' },
    refresh: '5m',
    variables: scopeVariables(['soil']),
    annotations: [alertsAnnotation(alertsAnnotationQuery())],
    panels,
  });
}
