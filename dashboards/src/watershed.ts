/** Watershed: the aquifer against its safe minimum, withdrawals against recharge, the river, water quality. */
import { type Obj, type Target, alertsAnnotation, base, constantVariable, dashboard, fixedColor, q, redAbove, redBelow, resetIds, row, ruleBand, scope, scopeVariables, seriesBy, stat, target, textboxVariable, thresholds, timeseries } from './kit.ts';
import { alertsAnnotationQuery } from './alerts.ts';
import { AQUIFER_FLOOR_M, AQUIFER_RULE, RIVER_OXYGEN, RIVER_STAGE } from './limits.ts';

/**
 * Safe minimum of the aquifer head, m above datum: the floor of the `aquifer-depletion` rule
 * (limits.ts). One value for the threshold line, the shaded region and the days-to-floor query (a
 * test keeps them equal).
 */
export { AQUIFER_FLOOR_M };

/** The latest evaluation of the aquifer's depletion rule per well: one of the numbers its alert quotes. */
function aquiferRule(field: string, alias: string): Target {
  return target(
    'A',
    q`SELECT last("${field}") AS "${alias}" FROM "rule_evaluations"
      WHERE "hub" =~ /^$hub$/ AND "subject" =~ /^$sensor$/ AND "rule" = '${AQUIFER_RULE}' AND $timeFilter GROUP BY "subject"`,
    { alias: '$tag_subject' },
  );
}

export function watershed(): Obj {
  resetIds();
  const w = scope();
  const panels: Obj[] = [
    row('Aquifer (stock)', 0),
    timeseries({
      title: 'Aquifer level against its safe minimum',
      description: `Groundwater head at each well, metres above datum. The red region is below the aquifer's safe minimum (${AQUIFER_FLOOR_M} m, the \`aquifer_floor\` constant): pumping there risks drying wells and the beck's baseflow.`,
      gridPos: { x: 0, y: 1, w: 16, h: 10 },
      unit: 'lengthm',
      decimals: 2,
      thresholds: thresholds({ color: 'red', value: null }, { color: 'green', value: AQUIFER_FLOOR_M }),
      thresholdsStyle: 'line+area',
      targets: [seriesBy(w, 'water', 'mean("groundwater_level")', 'sensor')],
    }),
    stat({
      title: 'Projected days to the floor',
      description: `Days until each well reaches the safe minimum at its current rate: the latest evaluation of the \`${AQUIFER_RULE}\` rule (its trend fit, the numbers its alert quotes), not a second computation. 0 = at or below the floor; "Not falling" when the level is steady or rising.`,
      gridPos: { x: 16, y: 1, w: 8, h: 5 },
      unit: 'd',
      decimals: 0,
      graph: false,
      thresholds: redBelow(30, 90),
      mappings: [{ type: 'range', options: { from: null, to: -0.5, result: { text: 'Not falling', color: 'green', index: 0 } } }],
      targets: [aquiferRule('value', 'days')],
    }),
    stat({
      title: 'Level trend (the alert\'s fit)',
      description: `Daily change of the head at each well, metres per day (negative = falling): the rate the \`${AQUIFER_RULE}\` rule fitted at its latest evaluation, over the window its alert names.`,
      gridPos: { x: 16, y: 6, w: 8, h: 5 },
      unit: 'suffix: m/d',
      decimals: 3,
      graph: false,
      thresholds: thresholds({ color: 'orange', value: null }, { color: 'green', value: 0 }),
      targets: [aquiferRule('ratePerDay', 'trend')],
    }),
    row('Extraction against regeneration', 11),
    timeseries({
      title: 'Withdrawals against recharge',
      description:
        'Water pumped from all wells against the recharge the rain delivers, both in m³ per interval. Recharge is estimated from rainfall: mm × recharge area (km², `recharge_area_km2`) × 1000 × the share that reaches the aquifer (`recharge_coefficient`). Set both for your aquifer.',
      gridPos: { x: 0, y: 12, w: 16, h: 9 },
      unit: 'm3',
      interval: '1h',
      drawStyle: 'bars',
      targets: [
        target('A', q`SELECT sum("withdrawal") AS "withdrawals" FROM "water" WHERE ${w} GROUP BY time($__interval) fill(0)`),
        target(
          'B',
          q`SELECT mean("rain") * \${recharge_area_km2:raw} * 1000 * \${recharge_coefficient:raw} AS "estimated recharge"
            FROM (SELECT sum("rainfall") AS "rain" FROM "water" WHERE ${w} GROUP BY time($__interval), "sensor" fill(none))
            WHERE $timeFilter GROUP BY time($__interval) fill(0)`,
        ),
      ],
      overrides: [fixedColor('withdrawals', 'orange'), fixedColor('estimated recharge', 'blue')],
    }),
    stat({
      title: 'Balance over the range',
      description: 'Water pumped over the time range against the recharge estimated from the rain that fell, m³. Withdrawals above recharge draw the aquifer down.',
      gridPos: { x: 16, y: 12, w: 8, h: 9 },
      unit: 'm3',
      decimals: 0,
      graph: false,
      textMode: 'value_and_name',
      thresholds: thresholds(base('blue')),
      overrides: [fixedColor('withdrawals', 'orange'), fixedColor('estimated recharge', 'blue')],
      targets: [
        target(
          'A',
          q`SELECT sum("pumped") AS "withdrawals", mean("rain") * \${recharge_area_km2:raw} * 1000 * \${recharge_coefficient:raw} AS "estimated recharge"
            FROM (SELECT sum("withdrawal") AS "pumped", sum("rainfall") AS "rain" FROM "water" WHERE ${w} GROUP BY "sensor")`,
        ),
      ],
    }),
    row('River', 21),
    timeseries({
      title: 'River stage',
      description: `Water surface height at each gauge, metres. Red below ${RIVER_STAGE.limit} m, where the \`river-stage-low\` alert fires if it lasts; orange until ${RIVER_STAGE.clear} m, where it resolves (limits from rules/defaults).`,
      gridPos: { x: 0, y: 22, w: 12, h: 8 },
      unit: 'lengthm',
      decimals: 2,
      thresholds: ruleBand(RIVER_STAGE),
      thresholdsStyle: 'dashed',
      targets: [seriesBy(w, 'water', 'mean("river_stage")', 'sensor')],
    }),
    timeseries({
      title: 'River discharge',
      description: 'Flow past each gauge, m³/s.',
      gridPos: { x: 12, y: 22, w: 12, h: 8 },
      unit: 'flowcms',
      decimals: 2,
      targets: [seriesBy(w, 'water', 'mean("discharge")', 'sensor')],
    }),
    row('Water quality', 30),
    ...quality(w),
  ];
  return dashboard({
    uid: 'steward-watershed',
    title: 'Watershed',
    description: "The hub's water commons: aquifer stock against its safe minimum, extraction against regeneration, the river and its water quality.",
    time: { from: 'now-7d', to: 'now' },
    variables: [
      ...scopeVariables(['water']),
      constantVariable('aquifer_floor', 'Aquifer safe minimum (m)', String(AQUIFER_FLOOR_M), 'Safe minimum of the aquifer head, m above datum (also the threshold of the level panel).'),
      textboxVariable('recharge_area_km2', 'Recharge area (km²)', '3', 'Area over which rain recharges the aquifer, km².'),
      textboxVariable('recharge_coefficient', 'Recharge coefficient', '0.25', 'Share of rainfall that reaches the aquifer (0–1).'),
    ],
    annotations: [alertsAnnotation(alertsAnnotationQuery())],
    panels,
  });
}

/** One panel per water-quality metric, each with the reference values that matter. */
function quality(w: string): Obj[] {
  const metric = (
    title: string,
    field: string,
    unit: string,
    description: string,
    gridPos: { x: number; y: number; w: number; h: number },
    th: Obj,
    decimals = 2,
  ): Obj =>
    timeseries({
      title,
      description,
      gridPos,
      unit,
      decimals,
      thresholds: th,
      thresholdsStyle: 'dashed',
      targets: [seriesBy(w, 'water', `mean("${field}")`, 'sensor')],
    });
  return [
    metric('Turbidity', 'turbidity', 'suffix: NTU', 'Cloudiness of the water. WHO: above 4 NTU is visible and shields microbes from disinfection.', { x: 0, y: 31, w: 8, h: 7 }, redAbove(1, 4), 1),
    metric('Nitrate', 'nitrate', 'suffix: mg/l', 'Nitrate as NO₃. EU and WHO drinking-water limit: 50 mg/l.', { x: 8, y: 31, w: 8, h: 7 }, redAbove(25, 50), 1),
    metric(
      'Dissolved oxygen',
      'dissolved_oxygen',
      'suffix: mg/l',
      `Red below ${RIVER_OXYGEN.limit} mg/l, where trout and salmon are stressed and the \`river-oxygen-low\` alert fires if it lasts; orange until ${RIVER_OXYGEN.clear} mg/l, where it resolves (limits from rules/defaults). Below 2 mg/l most fish die.`,
      { x: 16, y: 31, w: 8, h: 7 },
      ruleBand(RIVER_OXYGEN),
      1,
    ),
    metric('pH', 'ph', 'none', 'Acidity. Healthy streams and drinking water: 6.5–8.5.', { x: 0, y: 38, w: 12, h: 7 }, thresholds({ color: 'red', value: null }, { color: 'green', value: 6.5 }, { color: 'red', value: 8.5 })),
    metric('Water temperature', 'water_temperature', 'celsius', 'Above 20 °C trout and salmon are stressed; above 25 °C lethal for many.', { x: 12, y: 38, w: 12, h: 7 }, redAbove(20, 25), 1),
  ];
}
