/** Energy: generation by source against demand, storage, renewable share and self-sufficiency, household demand as privacy aggregates. */
import { BATTERY_CLEAR_PCT, BATTERY_RESERVE_PCT } from './limits.ts';
import { alertsAnnotationQuery } from './alerts.ts';
import { type Obj, alertsAnnotation, dashboard, fixedColor, overrideByName, q, redBelow, resetIds, row, scope, scopeVariables, seriesBy, stat, target, timeseries } from './kit.ts';

/**
 * `kind` of the per-area household aggregates the privacy boundary publishes (privacy policy
 * `households.output.kind`). They are kept out of community demand so no load counts twice.
 */
export const HOUSEHOLD_AREA_KIND = 'household-area';

/** Per-sensor means per interval of the community's sources, demand and battery. */
function perSensor(w: string, interval: string): string {
  return q`SELECT mean("pv_power") AS "pv", mean("wind_power") AS "wind", mean("demand_power") AS "demand",
      derivative(mean("battery_energy"), 1h) AS "charge"
    FROM "energy" WHERE ${w} AND "kind" != '${HOUSEHOLD_AREA_KIND}' GROUP BY time(${interval}), "sensor" fill(none)`;
}

/**
 * Per interval: community totals, and `covered`, the part of demand met by local sources:
 * min(generation + battery discharge, demand), with min(a, b) = (a + b − |a − b|) / 2 and
 * discharge = (|charge| − charge) / 2 (InfluxQL has no min of two expressions, but has ABS).
 */
function balance(w: string, interval: string): string {
  const supply = '"pv" + "wind" + (abs("charge") - "charge") / 2';
  return q`SELECT ((${supply}) + "demand" - abs((${supply}) - "demand")) / 2 AS "covered", "pv" + "wind" AS "generation", "demand"
    FROM (SELECT sum("pv") AS "pv", sum("wind") AS "wind", sum("demand") AS "demand", sum("charge") AS "charge"
          FROM (${perSensor(w, interval)}) WHERE $timeFilter GROUP BY time(${interval}))
    WHERE $timeFilter`;
}

export function energy(): Obj {
  resetIds();
  const w = scope();
  const sumOf = (field: string, alias: string): string =>
    q`SELECT sum("p") AS "${alias}" FROM (SELECT mean("${field}") AS "p" FROM "energy" WHERE ${w} AND "kind" != '${HOUSEHOLD_AREA_KIND}' GROUP BY time($__interval), "sensor" fill(none))
      WHERE $timeFilter GROUP BY time($__interval)`;
  const panels: Obj[] = [
    row('Generation against demand', 0),
    timeseries({
      title: 'Generation by source against demand',
      description: 'Solar and wind generation (stacked) against community demand, watts, summed over the selected sensors. Household loads appear only as area aggregates, below.',
      gridPos: { x: 0, y: 1, w: 16, h: 10 },
      unit: 'watt',
      stack: true,
      fillOpacity: 35,
      targets: [target('A', sumOf('pv_power', 'solar')), target('B', sumOf('wind_power', 'wind')), target('C', sumOf('demand_power', 'demand'))],
      overrides: [
        fixedColor('solar', 'yellow'),
        fixedColor('wind', 'blue'),
        overrideByName('demand', {
          color: { mode: 'fixed', fixedColor: 'red' },
          'custom.stacking': { mode: 'none', group: 'A' },
          'custom.fillOpacity': 0,
          'custom.lineWidth': 2,
        }),
      ],
    }),
    stat({
      title: 'Renewable share',
      description: 'Solar and wind generation as a share of community demand over the time range (energy-weighted). Above 100% the hub produces more than it uses.',
      gridPos: { x: 16, y: 1, w: 8, h: 5 },
      unit: 'percent',
      decimals: 0,
      graph: false,
      thresholds: redBelow(30, 60),
      targets: [target('A', q`SELECT 100 * sum("generation") / sum("demand") AS "renewable share" FROM (${balance(w, '$__interval')})`)],
    }),
    stat({
      title: 'Self-sufficiency',
      description:
        'Share of community demand met by local sources as it was used: per interval, the smaller of demand and (solar + wind + battery discharge), summed over the time range, divided by total demand. The rest came from the grid.',
      gridPos: { x: 16, y: 6, w: 8, h: 5 },
      unit: 'percent',
      decimals: 0,
      graph: false,
      max: 100,
      thresholds: redBelow(50, 80),
      targets: [target('A', q`SELECT 100 * sum("covered") / sum("demand") AS "self-sufficiency" FROM (${balance(w, '$__interval')})`)],
    }),
    timeseries({
      title: 'Renewable share and self-sufficiency over time',
      description: 'Per interval: generation / demand, and demand met locally / demand (see the two figures above).',
      gridPos: { x: 0, y: 11, w: 24, h: 8 },
      unit: 'percent',
      decimals: 0,
      interval: '15m',
      targets: [
        target(
          'A',
          q`SELECT 100 * sum("generation") / sum("demand") AS "renewable share", 100 * sum("covered") / sum("demand") AS "self-sufficiency"
            FROM (${balance(w, '$__interval')}) WHERE $timeFilter GROUP BY time($__interval)`,
        ),
      ],
    }),
    row('Storage', 19),
    timeseries({
      title: 'Battery state of charge',
      description: `State of charge of the hub battery. Red below the ${BATTERY_RESERVE_PCT}% reserve, where the \`battery-low\` alert fires; orange until ${BATTERY_CLEAR_PCT}%, where it resolves (limits from rules/defaults).`,
      gridPos: { x: 0, y: 20, w: 12, h: 8 },
      unit: 'percent',
      min: 0,
      max: 100,
      decimals: 0,
      thresholds: redBelow(BATTERY_RESERVE_PCT, BATTERY_CLEAR_PCT),
      thresholdsStyle: 'dashed',
      targets: [seriesBy(w, 'energy', 'mean("battery_soc")', 'sensor')],
    }),
    timeseries({
      title: 'Stored energy',
      description: 'Energy in the battery, watt-hours.',
      gridPos: { x: 12, y: 20, w: 12, h: 8 },
      unit: 'watth',
      targets: [seriesBy(w, 'energy', 'mean("battery_energy")', 'sensor')],
    }),
    row('Households (privacy-aggregated)', 28),
    timeseries({
      title: 'Household demand by area',
      description:
        "Total household load per area and UTC day, as published by the privacy boundary (with noise), over the last 7 days: only days with at least 15 households, none above 15% of the area's load (the 15/15 rule), are ever stored. Areas that fail it have gaps; today's total appears once the day has closed. No single household's load is stored or shown.",
      gridPos: { x: 0, y: 29, w: 24, h: 8 },
      unit: 'watt',
      timeFrom: '7d',
      targets: [
        target('A', q`SELECT mean("demand_power") FROM "energy" WHERE ${w} AND "kind" = '${HOUSEHOLD_AREA_KIND}' GROUP BY time(1d), "sensor" fill(none)`, {
          alias: '$tag_sensor',
        }),
      ],
      noValue: 'No area met the 15/15 rule',
    }),
  ];
  return dashboard({
    uid: 'steward-energy',
    title: 'Energy',
    description: "The hub's energy commons: generation by source against demand, the battery, renewable share and self-sufficiency, and household demand as privacy-preserving area aggregates.",
    time: { from: 'now-24h', to: 'now' },
    variables: scopeVariables(['energy']),
    annotations: [alertsAnnotation(alertsAnnotationQuery())],
    panels,
  });
}
