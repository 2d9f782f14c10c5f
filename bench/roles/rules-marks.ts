/**
 * What the instrumented roles of the rules benchmark share (not a role itself): time marks of the
 * probe's readings and alerts as they pass a process, and the process's own figures over a phase
 * (CPU, event-loop delay, readings accepted, stream-evaluation time from the metrics registry).
 *
 * Times are `performance.timeOrigin + performance.now()`: wall clock with sub-millisecond
 * resolution, comparable across the bench's processes (one machine, one clock) to well under a
 * millisecond. Marks are keyed by the probe reading's sensor timestamp (for an alert: its
 * `firedAt` or `resolvedAt`, which is that timestamp).
 *
 * Long turns: every event-loop turn of the main thread longer than {@link LONG_TURN_MS}, with how
 * much of it the thread was on a CPU and how much it waited for one (the kernel's schedstat of the
 * thread, Linux only). It says whether an alert's tail is the process's own work or the machine's
 * other threads and processes.
 * @module
 */
import { closeSync, openSync, readSync } from 'node:fs';
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

/** Event-loop turns longer than this count as long (the alert aim is 10 ms end to end). */
export const LONG_TURN_MS = 9;

/**
 * Counts the main thread's long event-loop turns with a 1 ms timer, and splits their time with
 * `/proc/self/task/<pid>/schedstat` (ns on a CPU, ns runnable but waiting for a CPU), read at every
 * tick with one pread (a few µs). Without that file (not Linux) only turns and their length.
 */
class LongTurns {
  readonly #fd: number | undefined;
  readonly #buf = Buffer.alloc(96);
  readonly #timer: NodeJS.Timeout;
  #last = performance.now();
  #s0: [number, number];
  turns = 0;
  ms = 0;
  onCpuMs = 0;
  waitingMs = 0;

  constructor() {
    try {
      this.#fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
    } catch {
      this.#fd = undefined;
    }
    this.#s0 = this.#sched();
    this.#timer = setInterval(() => this.#tick(), 1);
    this.#timer.unref();
  }

  reset(): void {
    this.turns = this.ms = this.onCpuMs = this.waitingMs = 0;
  }

  stats(): { overMs: number; turns: number; ms: number; onCpuMs: number | null; waitingForCpuMs: number | null } {
    const r = (x: number): number => Math.round(x * 10) / 10;
    const sched = this.#fd !== undefined;
    return { overMs: LONG_TURN_MS, turns: this.turns, ms: r(this.ms), onCpuMs: sched ? r(this.onCpuMs) : null, waitingForCpuMs: sched ? r(this.waitingMs) : null };
  }

  stop(): void {
    clearInterval(this.#timer);
    if (this.#fd !== undefined) closeSync(this.#fd);
  }

  #sched(): [number, number] {
    if (this.#fd === undefined) return [0, 0];
    const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
    const [run, wait] = this.#buf.toString('latin1', 0, n).split(' ');
    return [Number(run), Number(wait)];
  }

  #tick(): void {
    const now = performance.now();
    const s1 = this.#sched();
    const turn = now - this.#last;
    if (turn > LONG_TURN_MS) {
      this.turns++;
      this.ms += turn;
      this.onCpuMs += (s1[0] - this.#s0[0]) / 1e6;
      this.waitingMs += (s1[1] - this.#s0[1]) / 1e6;
    }
    this.#last = now;
    this.#s0 = s1;
  }
}

/** Marks and figures of one process over a phase. */
export class PhaseMarks {
  readonly #marks = new Map<MarkName, Map<string, number>>();
  readonly #eld = monitorEventLoopDelay({ resolution: 1 });
  readonly #long = new LongTurns();
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
    this.#long.reset();
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
      longTurns: this.#long.stats(),
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
    this.#long.stop();
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
