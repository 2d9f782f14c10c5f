/**
 * Self-telemetry: every `intervalMs` a snapshot of this process's pipeline metrics is written to
 * the `pipeline` measurement (tags role, hub), where the Pipeline health dashboard reads it.
 * Best effort: a failed write is logged by the store and never disturbs the pipeline.
 *
 * Fields: `readings_accepted`, `readings_rejected`, `readings_stored` (counters, totals since the
 * process started), `rejected_<code>` per rejection code, `spool_depth`, `connected_devices`,
 * `write_latency_ms` (mean storage write latency over the interval), `publish_to_stored_ms` (mean
 * freshness over the interval), `rss_bytes`.
 */
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { ReadingStore } from '../core/store.ts';
import type { PipelineMetrics } from './metrics.ts';

export interface TelemetryWriter {
  start(): void;
  /** Writes a last snapshot and stops. */
  stop(): Promise<void>;
  /** Writes one snapshot now. */
  flush(): Promise<void>;
}

type MetricJson = { name: string; values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }> };

export function createTelemetryWriter(o: { metrics: PipelineMetrics; store: ReadingStore; role: string; hub?: string; intervalMs?: number; clock?: Clock }): TelemetryWriter {
  const clock = o.clock ?? systemClock;
  let timer: NodeJS.Timeout | undefined;
  let prev = new Map<string, number>();

  async function snapshot(): Promise<Record<string, number>> {
    const all = (await o.metrics.registry.getMetricsAsJSON()) as MetricJson[];
    const by = new Map(all.map((m) => [m.name, m]));
    const sum = (name: string, filter?: (l: Record<string, string | number>) => boolean, metricName?: string): number =>
      (by.get(name)?.values ?? []).filter((v) => (!metricName || v.metricName === metricName) && (!filter || filter(v.labels))).reduce((a, v) => a + v.value, 0);
    const f: Record<string, number> = {
      readings_accepted: sum('steward_readings_accepted_total'),
      readings_rejected: sum('steward_readings_rejected_total'),
      readings_stored: sum('steward_readings_stored_total'),
      spool_depth: sum('steward_spool_depth'),
      connected_devices: sum('steward_mqtt_connected_clients'),
      rss_bytes: process.memoryUsage().rss,
    };
    for (const v of by.get('steward_readings_rejected_total')?.values ?? []) {
      const code = String(v.labels.code ?? 'unknown');
      if (/^[a-z0-9_]+$/.test(code)) f[`rejected_${code}`] = (f[`rejected_${code}`] ?? 0) + v.value;
    }
    // Means over the interval, from histogram sums and counts.
    const cur = new Map<string, number>([
      ['w_sum', sum('steward_storage_write_seconds', undefined, 'steward_storage_write_seconds_sum')],
      ['w_cnt', sum('steward_storage_write_seconds', undefined, 'steward_storage_write_seconds_count')],
      ['e_sum', sum('steward_publish_to_stored_seconds', undefined, 'steward_publish_to_stored_seconds_sum')],
      ['e_cnt', sum('steward_publish_to_stored_seconds', undefined, 'steward_publish_to_stored_seconds_count')],
    ]);
    const d = (k: string): number => (cur.get(k) ?? 0) - (prev.get(k) ?? 0);
    if (d('w_cnt') > 0) f.write_latency_ms = (d('w_sum') / d('w_cnt')) * 1000;
    if (d('e_cnt') > 0) f.publish_to_stored_ms = (d('e_sum') / d('e_cnt')) * 1000;
    prev = cur;
    return f;
  }

  async function flush(): Promise<void> {
    const fields = await snapshot();
    const point = { ts: clock.now(), role: o.role, fields, ...(o.hub ? { hub: o.hub } : {}) };
    await o.store.writePipeline([point]);
  }

  return {
    start() {
      timer = setInterval(() => void flush().catch(() => {}), o.intervalMs ?? 10_000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await flush().catch(() => {});
    },
    flush,
  };
}
