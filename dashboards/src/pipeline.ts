/** Pipeline health: ingest rate, rejections by reason, spool depth, write latency, connected devices (self-telemetry in `pipeline`). */
import { REJECTION_CODES } from '../../core/errors.ts';
import { alertsAnnotationQuery } from './alerts.ts';
import { type GridPos, type Obj, alertsAnnotation, base, dashboard, datasourceVariable, q, redAbove, resetIds, row, scope, seriesBy, stat, tagVariable, target, thresholds, timeseries } from './kit.ts';

export function pipeline(): Obj {
  resetIds();
  const w = scope(['hub', 'role']);
  const rate = (field: string, alias: string): string => `non_negative_derivative(max("${field}"), 1s) AS "${alias}"`;
  const byRole = (select: string) => seriesBy(w, 'pipeline', select, 'role', 'none');
  /** A per-role time series every 10 s, with warning and alarm lines when given. */
  const perRole = (title: string, description: string, gridPos: GridPos, unit: string, select: string, th?: [number, number]): Obj =>
    timeseries({ title, description, gridPos, unit, interval: '10s', ...(th && { thresholds: redAbove(...th), thresholdsStyle: 'dashed' }), targets: [byRole(select)] });
  const rejections = Object.keys(REJECTION_CODES)
    .map((code) => rate(`rejected_${code}`, code))
    .join(', ');
  const panels: Obj[] = [
    row('Throughput', 0),
    timeseries({
      title: 'Ingest rate',
      description: 'Readings per second accepted (validated and spooled), stored (committed to storage) and rejected, by role. Counters restart with a process; restarts do not show as dips.',
      gridPos: { x: 0, y: 1, w: 16, h: 9 },
      unit: 'suffix: /s',
      decimals: 1,
      interval: '10s',
      targets: [
        target(
          'A',
          q`SELECT ${rate('readings_accepted', 'accepted')}, ${rate('readings_stored', 'stored')}, ${rate('readings_rejected', 'rejected')}
            FROM "pipeline" WHERE ${w} GROUP BY time($__interval), "role" fill(none)`,
          { alias: '$tag_role $col' },
        ),
      ],
    }),
    stat({
      title: 'Rejected in range',
      description: 'Messages refused over the time range (all reasons); each is kept as a dead letter with its reason.',
      gridPos: { x: 16, y: 1, w: 8, h: 4 },
      unit: 'short',
      graph: false,
      thresholds: thresholds(base(), { color: 'orange', value: 1 }),
      targets: [
        target(
          'A',
          q`SELECT sum("n") AS "rejected" FROM (SELECT non_negative_difference(max("readings_rejected")) AS "n" FROM "pipeline" WHERE ${w} GROUP BY time(1m), "role", "hub" fill(none))
            WHERE $timeFilter`,
        ),
      ],
    }),
    stat({
      title: 'Connected devices',
      description: 'MQTT clients connected to the broker (latest).',
      gridPos: { x: 16, y: 5, w: 8, h: 5 },
      unit: 'short',
      thresholds: thresholds({ color: 'orange', value: null }, { color: 'green', value: 1 }),
      targets: [byRole('last("connected_devices")')],
    }),
    timeseries({
      title: 'Rejections by reason',
      description: 'Rejected messages per second by reason code (docs/errors.md lists them).',
      gridPos: { x: 0, y: 10, w: 24, h: 8 },
      unit: 'suffix: /s',
      interval: '10s',
      drawStyle: 'bars',
      stack: true,
      targets: [target('A', `SELECT ${rejections} FROM "pipeline" WHERE ${w} GROUP BY time($__interval) fill(none)`)],
      noValue: 'No rejections',
    }),
    row('Storage', 18),
    perRole('Spool depth', 'Readings in the durable spool not yet in storage. It grows while storage is down and drains when it returns.', { x: 0, y: 19, w: 8, h: 8 }, 'short', 'max("spool_depth")', [1000, 100000]),
    perRole('Storage write latency', 'Mean time to write one batch to storage, ms.', { x: 8, y: 19, w: 8, h: 8 }, 'ms', 'mean("write_latency_ms")', [250, 2500]),
    perRole(
      'Publish to stored',
      "Mean time from a reading's sensor timestamp to its commit in storage (freshness of what dashboards show), ms.",
      { x: 16, y: 19, w: 8, h: 8 },
      'ms',
      'mean("publish_to_stored_ms")',
      [5000, 60000],
    ),
    row('Processes', 27),
    perRole('Connected devices over time', 'MQTT clients connected to the broker.', { x: 0, y: 28, w: 12, h: 8 }, 'short', 'max("connected_devices")'),
    perRole('Memory (RSS)', 'Resident memory of each process.', { x: 12, y: 28, w: 12, h: 8 }, 'bytes', 'max("rss_bytes")'),
  ];
  return dashboard({
    uid: 'steward-pipeline',
    title: 'Pipeline health',
    description: "The pipeline's own health, from the self-telemetry every role writes to the `pipeline` measurement.",
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    variables: [
      datasourceVariable(),
      tagVariable('hub', 'Hub', 'SHOW TAG VALUES FROM "pipeline" WITH KEY = "hub"'),
      tagVariable('role', 'Role', 'SHOW TAG VALUES FROM "pipeline" WITH KEY = "role" WHERE "hub" =~ /^$hub$/'),
    ],
    annotations: [alertsAnnotation(alertsAnnotationQuery())],
    panels,
  });
}
