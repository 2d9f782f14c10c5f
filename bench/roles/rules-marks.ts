/**
 * What the instrumented roles of the rules benchmark share (not a role itself): time marks of the
 * probe's readings and alerts as they pass a process, and the process's own figures over a phase
 * (CPU, event-loop delay, readings accepted, stream-evaluation time from the metrics registry).
 *
 * Times are `performance.timeOrigin + performance.now()`: wall clock with sub-millisecond
 * resolution, comparable across the bench's processes (one machine, one clock) to well under a
 * millisecond. Marks are keyed by the probe reading's sensor timestamp (for an alert: its
 * `firedAt` or `resolvedAt`, which is that timestamp).
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import type { Histogram, Registry } from 'prom-client';
import type { Reading } from '../../core/reading.ts';
import type { PipelineMetrics } from '../../telemetry/metrics.ts';
import { reply, type Command } from '../lib/role.ts';

/** Mark names, in the order a probe reading passes them. */
export type MarkName = 'received' | 'handled' | 'published' | 'alerted';

export const wall = (): number => performance.timeOrigin + performance.now();

/** The sensor timestamp at the start of a probe payload (`{"ts":<13 digits>,…`). */
export const payloadTs = (payload: Buffer): number => Number(payload.toString('latin1', 6, 19));

/** The key of an alert message: its reading's timestamp and the event. */
export function alertKey(payload: Buffer | string): string | undefined {
  if (payload.length === 0) return undefined; // the retained state being cleared after a resolve
  const a = JSON.parse(payload.toString()) as { event: string; firedAt: string | null; resolvedAt: string | null };
  const iso = a.event === 'resolved' ? a.resolvedAt : a.firedAt;
  return iso && (a.event === 'firing' || a.event === 'resolved') ? `${Date.parse(iso)}|${a.event}` : undefined;
}

/** Marks and figures of one process over a phase. */
export class PhaseMarks {
  readonly #marks = new Map<MarkName, Map<string, number>>();
  readonly #eld = monitorEventLoopDelay({ resolution: 1 });
  readonly #metrics: PipelineMetrics | undefined;
  #accepted0 = 0;
  #eval0: Record<string, { sum: number; count: number }> = {};
  #cpu0 = process.cpuUsage();
  #t0 = wall();

  /** @param metrics - the process's metrics registry, for readings accepted and stream evaluation time */
  constructor(metrics?: PipelineMetrics) {
    this.#metrics = metrics;
    this.#eld.enable();
  }

  /** Marks a probe reading (`key` = its timestamp) or alert (`key` = `${ts}|${event}`). */
  mark(name: MarkName, key: number | string): void {
    let m = this.#marks.get(name);
    if (!m) this.#marks.set(name, (m = new Map()));
    m.set(String(key), wall());
  }

  /** Marks the probe's readings among `rs`. */
  markReadings(name: MarkName, rs: readonly Reading[], hub: string, sensor: string): void {
    for (const r of rs) if (r.sensor === sensor && r.hub === hub) this.mark(name, r.ts);
  }

  async reset(): Promise<void> {
    this.#marks.clear();
    this.#eld.reset();
    this.#accepted0 = await this.#accepted();
    this.#eval0 = await this.#histograms();
    this.#cpu0 = process.cpuUsage();
    this.#t0 = wall();
  }

  async stats(): Promise<Record<string, unknown>> {
    const h = await this.#histograms();
    const cpu = process.cpuUsage(this.#cpu0);
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const wallMs = Math.round(wall() - this.#t0);
    const delta = (k: string): { sum: number; count: number } => ({ sum: (h[k]?.sum ?? 0) - (this.#eval0[k]?.sum ?? 0), count: (h[k]?.count ?? 0) - (this.#eval0[k]?.count ?? 0) });
    const stream = delta('stream');
    const windowed = delta('window');
    const deadman = delta('deadman');
    const writes = delta('storage');
    return {
      wallMs,
      accepted: this.#metrics ? (await this.#accepted()) - this.#accepted0 : null,
      cpuS: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      eventLoopDelayMs: { p50: ms(this.#eld.percentile(50)), p99: ms(this.#eld.percentile(99)), max: ms(this.#eld.max), mean: ms(this.#eld.mean) },
      streamEvaluation: { calls: stream.count, meanUs: stream.count > 0 ? Math.round((stream.sum / stream.count) * 1e7) / 10 : null },
      /** Scheduled evaluations (window and deadman rules): runs, and milliseconds spent per second of the phase. */
      scheduledEvaluation: { runs: windowed.count + deadman.count, msPerS: Math.round(((windowed.sum + deadman.sum) * 1e3 * 1e3) / wallMs) / 1e3 },
      storageWrites: { writes: writes.count, meanMs: writes.count > 0 ? Math.round((writes.sum / writes.count) * 1e4) / 10 : null },
      marks: Object.fromEntries([...this.#marks].map(([k, v]) => [k, [...v]])),
    };
  }

  /** Answers `reset` and `stats`; false for any other command. */
  async handle(c: Command, extra: () => Record<string, unknown> = () => ({})): Promise<boolean> {
    if (c.cmd === 'reset') {
      await this.reset();
      reply(c, { type: 'reset' });
      return true;
    }
    if (c.cmd === 'stats') {
      reply(c, { type: 'stats', ...(await this.stats()), ...extra() });
      return true;
    }
    return false;
  }

  stop(): void {
    this.#eld.disable();
  }

  async #accepted(): Promise<number> {
    return this.#metrics ? (await this.#metrics.readingsAccepted.get()).values.reduce((n, v) => n + v.value, 0) : 0;
  }

  /** Sum and count of the rules' evaluation histogram by mode, and of storage writes (`storage`). */
  async #histograms(): Promise<Record<string, { sum: number; count: number }>> {
    const registry: Registry | undefined = this.#metrics?.registry;
    const out: Record<string, { sum: number; count: number }> = {};
    const read = async (metric: string, key: (labels: Record<string, unknown>) => string): Promise<void> => {
      const h = registry?.getSingleMetric(metric) as Histogram | undefined;
      for (const v of h ? (await h.get()).values : []) {
        const k = key(v.labels);
        const e = (out[k] ??= { sum: 0, count: 0 });
        if (v.metricName === `${metric}_sum`) e.sum += v.value;
        if (v.metricName === `${metric}_count`) e.count += v.value;
      }
    };
    await read('steward_rules_evaluation_seconds', (l) => String(l.mode));
    await read('steward_storage_write_seconds', () => 'storage');
    return out;
  }
}

/**
 * Experiment knob of the bench, not a Steward setting: Aedes's `concurrency` (the most messages
 * its emitter routes at once, default 100; the rest wait in its queue) for brokers created in this
 * process after the call. `undefined` leaves Steward's broker as it is.
 */
export function setAedesConcurrency(value: string | undefined): void {
  if (value === undefined) return;
  const concurrency = Number(value);
  const original = Aedes.createBroker.bind(Aedes);
  Aedes.createBroker = (opts) => original({ ...opts, concurrency });
}
