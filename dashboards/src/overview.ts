/** Commons overview: each commons' stock against its thresholds on one screen, and the active alerts. */
import { activeAlertsQuery, alertCountQuery, alertsAnnotationQuery } from './alerts.ts';
import { HOUSEHOLD_AREA_KIND } from './energy.ts';
import { type Obj, alertsAnnotation, dashboard, dashLink, overrideByName, q, redBelow, resetIds, scope, scopeVariables, seriesBy, stat, table, target, thresholds, timeseries, totalBy } from './kit.ts';
import { AQUIFER_FLOOR_M } from './watershed.ts';

export function overview(): Obj {
  resetIds();
  const w = scope();
  const panels: Obj[] = [
    stat({
      title: 'Water: aquifer level',
      description: `Latest groundwater head at each well, m above datum; red below the safe minimum (${AQUIFER_FLOOR_M} m).`,
      gridPos: { x: 0, y: 0, w: 6, h: 6 },
      unit: 'lengthm',
      decimals: 2,
      thresholds: thresholds({ color: 'red', value: null }, { color: 'green', value: AQUIFER_FLOOR_M }),
      links: [dashLink('Watershed', 'steward-watershed')],
      targets: [seriesBy(w, 'water', 'mean("groundwater_level")', 'sensor', 'none')],
    }),
    stat({
      title: 'Soil: organic carbon',
      description: 'Latest soil organic carbon at each site, % of soil mass; red below 1.5%, green above 3%.',
      gridPos: { x: 6, y: 0, w: 6, h: 6 },
      unit: 'percent',
      decimals: 2,
      thresholds: redBelow(1.5, 3),
      links: [dashLink('Soil carbon', 'steward-soil-carbon')],
      targets: [seriesBy(w, 'soil', 'mean("soil_organic_carbon")', 'site', 'none')],
    }),
    stat({
      title: 'Energy: battery charge',
      description: 'Latest battery state of charge; red below 20%.',
      gridPos: { x: 12, y: 0, w: 6, h: 6 },
      unit: 'percent',
      decimals: 0,
      min: 0,
      max: 100,
      thresholds: redBelow(20, 40),
      links: [dashLink('Energy', 'steward-energy')],
      targets: [seriesBy(w, 'energy', 'mean("battery_soc")', 'sensor', 'none')],
    }),
    stat({
      title: 'Biodiversity: species richness',
      description: 'Distinct species detected at each site over the time range; red below 5, green from 15.',
      gridPos: { x: 18, y: 0, w: 6, h: 6 },
      unit: 'short',
      graph: false,
      thresholds: redBelow(5, 15),
      links: [dashLink('Biodiversity', 'steward-biodiversity')],
      targets: [totalBy(w, 'biodiversity', 'count(distinct("species"))', 'site')],
    }),
    stat({
      title: 'Water: extraction against rainfall',
      description: 'Water pumped over the time range (m³) and rain that fell (mm): the flows behind the aquifer stock.',
      gridPos: { x: 0, y: 6, w: 6, h: 5 },
      unit: 'm3',
      decimals: 0,
      graph: false,
      thresholds: thresholds({ color: 'blue', value: null }),
      links: [dashLink('Watershed', 'steward-watershed')],
      textMode: 'value_and_name',
      overrides: [overrideByName('rain', { unit: 'lengthmm' })],
      targets: [
        target(
          'A',
          q`SELECT sum("pumped") AS "pumped", mean("rain") AS "rain"
            FROM (SELECT sum("withdrawal") AS "pumped", sum("rainfall") AS "rain" FROM "water" WHERE ${w} GROUP BY "sensor")`,
        ),
      ],
    }),
    stat({
      title: 'Energy: renewable generation',
      description: 'Mean solar and wind generation against mean community demand over the time range.',
      gridPos: { x: 6, y: 6, w: 12, h: 5 },
      unit: 'watt',
      decimals: 0,
      graph: false,
      textMode: 'value_and_name',
      thresholds: thresholds({ color: 'blue', value: null }),
      links: [dashLink('Energy', 'steward-energy')],
      targets: [
        target(
          'A',
          q`SELECT sum("pv") AS "solar", sum("wind") AS "wind", sum("demand") AS "demand"
            FROM (SELECT mean("pv_power") AS "pv", mean("wind_power") AS "wind", mean("demand_power") AS "demand"
                  FROM "energy" WHERE ${w} AND "kind" != '${HOUSEHOLD_AREA_KIND}' GROUP BY "sensor")`,
        ),
      ],
    }),
    stat({
      title: 'Soil: CO2 flux',
      description: 'Mean soil CO2 flux over the time range, µmol/m²/s (positive = out of the soil).',
      gridPos: { x: 18, y: 6, w: 6, h: 5 },
      unit: 'suffix: µmol/m²/s',
      decimals: 2,
      graph: false,
      thresholds: thresholds({ color: 'blue', value: null }),
      links: [dashLink('Soil carbon', 'steward-soil-carbon')],
      targets: [totalBy(w, 'soil', 'mean("co2_flux")', 'site')],
    }),
    table({
      title: 'Active alerts',
      description: 'Alerts whose latest state in the last 30 days is firing: what is wrong, where and the number the rule judged.',
      gridPos: { x: 0, y: 11, w: 16, h: 10 },
      unit: 'none',
      timeFrom: '30d',
      sortBy: [{ displayName: 'severity', desc: false }],
      targets: [target('A', activeAlertsQuery(), { format: 'table' })],
      noValue: 'No active alerts',
    }),
    timeseries({
      title: 'Alerts fired',
      description: 'Alerts starting to fire per interval, by severity.',
      gridPos: { x: 16, y: 11, w: 8, h: 10 },
      unit: 'short',
      interval: '1h',
      drawStyle: 'bars',
      stack: true,
      targets: [target('A', alertCountQuery(), { alias: '$tag_severity' })],
      noValue: 'No alerts',
    }),
  ];
  return dashboard({
    uid: 'steward-overview',
    title: 'Commons overview',
    description: "Each commons' stock against its thresholds on one screen, the flows behind them, and the alerts that are firing.",
    time: { from: 'now-7d', to: 'now' },
    variables: scopeVariables(['water', 'soil', 'energy', 'biodiversity']),
    annotations: [alertsAnnotation(alertsAnnotationQuery())],
    panels,
  });
}
