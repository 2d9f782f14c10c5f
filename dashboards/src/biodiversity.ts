/** Biodiversity: detections, species richness and Shannon diversity per site; locations of sensitive species generalised. */
import { alertsAnnotationQuery, shannonQuery } from './alerts.ts';
import { type Obj, alertsAnnotation, bargauge, dashboard, q, redBelow, resetIds, row, scope, scopeVariables, seriesBy, table, target, thresholds, timeseries, totalBy } from './kit.ts';

const richnessThresholds = (): Obj => redBelow(5, 15);

export function biodiversity(): Obj {
  resetIds();
  const w = scope();
  const panels: Obj[] = [
    row('Detections', 0),
    timeseries({
      title: 'Detections by site',
      description: 'Detections and observations per interval at each site (acoustic monitors, cameras, traps, citizen observations).',
      gridPos: { x: 0, y: 1, w: 16, h: 8 },
      unit: 'short',
      interval: '1h',
      drawStyle: 'bars',
      stack: true,
      targets: [seriesBy(w, 'biodiversity', 'count("species")', 'site', '0')],
    }),
    bargauge({
      title: 'Individuals by site',
      description: 'Individuals detected or observed over the time range at each site.',
      gridPos: { x: 16, y: 1, w: 8, h: 8 },
      unit: 'short',
      thresholds: thresholds({ color: 'blue', value: null }),
      targets: [totalBy(w, 'biodiversity', 'sum("count")', 'site')],
    }),
    row('Diversity', 9),
    bargauge({
      title: 'Species richness by site',
      description: 'Number of distinct species detected at each site over the time range.',
      gridPos: { x: 0, y: 10, w: 8, h: 8 },
      unit: 'short',
      min: 0,
      thresholds: richnessThresholds(),
      targets: [totalBy(w, 'biodiversity', 'count(distinct("species"))', 'site')],
    }),
    timeseries({
      title: 'Daily species richness',
      description: 'Distinct species detected per day at each site (richness depends on the window: a day is compared with a day).',
      gridPos: { x: 8, y: 10, w: 16, h: 8 },
      unit: 'short',
      interval: '1d',
      drawStyle: 'bars',
      thresholds: richnessThresholds(),
      targets: [seriesBy(w, 'biodiversity', 'count(distinct("species"))', 'site', '0')],
    }),
    timeseries({
      title: 'Shannon diversity by site',
      description:
        "Shannon index H = −Σ pᵢ ln pᵢ over species proportions, as computed by the rules engine's `diversity` rules with `index: shannon` (InfluxQL cannot group by the `species` field, so H cannot be computed in the query). Points appear where those rules are evaluated.",
      gridPos: { x: 0, y: 18, w: 24, h: 8 },
      unit: 'none',
      decimals: 2,
      drawStyle: 'points',
      targets: [target('A', shannonQuery(), { alias: '$tag_subject' })],
      noValue: 'No Shannon rule evaluated in this range',
    }),
    row('Records', 26),
    table({
      title: 'Recent detections',
      description:
        'Latest detections and observations as stored: observer names and contact details are never stored, locations are coarsened, and sensitive species (orchids, raptors, otter, …) are generalised to a 0.2° cell by the privacy policy.',
      gridPos: { x: 0, y: 27, w: 14, h: 10 },
      unit: 'none',
      sortBy: [{ displayName: 'Time', desc: true }],
      targets: [
        target('A', q`SELECT "species", "count", "confidence", "site", "sensor", "lat", "lon" FROM "biodiversity" WHERE ${w} ORDER BY time DESC LIMIT 200`, { format: 'table' }),
      ],
    }),
    table({
      title: 'Individuals by species',
      description: 'Individuals per species over the time range (grouped in Grafana: InfluxQL cannot group by a field).',
      gridPos: { x: 14, y: 27, w: 10, h: 10 },
      unit: 'none',
      sortBy: [{ displayName: 'count (sum)', desc: true }],
      targets: [target('A', q`SELECT "species", "count" FROM "biodiversity" WHERE ${w} LIMIT 50000`, { format: 'table' })],
      transformations: [{ id: 'groupBy', options: { fields: { species: { aggregations: [], operation: 'groupby' }, count: { aggregations: ['sum'], operation: 'aggregate' } } } }],
    }),
  ];
  return dashboard({
    uid: 'steward-biodiversity',
    title: 'Biodiversity',
    description: "The hub's biodiversity commons: detections, species richness and Shannon diversity per site.",
    time: { from: 'now-7d', to: 'now' },
    refresh: '5m',
    variables: scopeVariables(['biodiversity']),
    annotations: [alertsAnnotation(alertsAnnotationQuery())],
    panels,
  });
}
