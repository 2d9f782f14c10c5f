/**
 * The intake: where a reading becomes durable before anyone acknowledges it. The broker's publish
 * path (and the external-broker subscriber) hands each MQTT message to `submit`; the intake
 * validates it, group-commits it to the spool (or, when invalid, to the dead letters) together
 * with every other message submitted in the same turn of the event loop, and only then calls the
 * message's `done` so the caller can send the PUBACK.
 *
 * When the spool cannot take more (its quota, a full disk, an I/O error) the intake holds every
 * `done` instead of failing it: the devices keep their readings and resend them, which is what
 * QoS 1 is for. It retries by itself, says so on every change of state (log at warn/error, the
 * `steward_intake_paused` gauge, `pressure()` for `/ready`), and resumes when space returns.
 *
 * `done` callbacks are called in submission order, so a subscriber sends its PUBACKs in the order
 * the PUBLISH packets arrived [MQTT-4.6.0-2].
 * @module
 */
import { statfsSync } from 'node:fs';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { RejectionError, type RejectionCode } from '../core/errors.ts';
import { parsePayload } from '../core/parse.ts';
import type { Reading } from '../core/reading.ts';
import { parseTopicCached, rejectedTopic } from '../core/topics.ts';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { Spool } from './spool.ts';

/** Below this much free space on the spool's disk the intake stops acknowledging (disk_full). */
const MIN_FREE_BYTES = 1024 * 1024;

/** What became of one submitted message, once it is durable. */
export type Verdict = { accepted: true; readings: Reading[] } | ({ accepted: false } & Rejection);

/** A refused message, kept as a dead letter. */
export interface Rejection {
  topic: string;
  code: RejectionCode;
  reason: string;
  hub?: string | undefined;
  sensor?: string | undefined;
  receivedAt: number;
  payload: Buffer;
}

/**
 * An `onRejected` that tells technicians on `csm/v1/{hub}/rejected` what was refused, why, when,
 * and the payload (as text, at most 4 KiB), through `publish` (the broker in-process, or the
 * subscriber's connection). A failed publish is logged: the rejection itself is a dead letter.
 */
export function rejectionPublisher(publish: (topic: string, payload: string, opts: { qos: 1 }) => Promise<void>, logger: Logger): (r: Rejection) => void {
  return (r) => {
    if (!r.hub) return;
    const body = JSON.stringify({ topic: r.topic, code: r.code, reason: r.reason, receivedAt: new Date(r.receivedAt).toISOString(), sensor: r.sensor, payload: r.payload.subarray(0, 4096).toString('utf8') });
    publish(rejectedTopic(r.hub), body, { qos: 1 }).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not publish a rejection'));
  };
}

/** Why the intake is holding acknowledgements. */
export type PressureReason = 'spool_quota' | 'disk_full' | 'spool_error';

export interface Pressure {
  reason: PressureReason;
  /** A sentence for an operator. */
  message: string;
  /** Epoch ms when it began. */
  since: number;
}

export type ReadingListener = (readings: Reading[]) => void;

export interface IntakeOptions {
  spool: Spool;
  deadLetters: DeadLetterStore;
  registry: Registry;
  metrics: PipelineMetrics;
  logger: Logger;
  /** `ingest` section of the config: skew, payload size, spool quota. */
  config: Pick<Config['ingest'], 'maxSkewMs' | 'maxPayloadBytes' | 'batchSize'>;
  clock?: Clock;
  /** Called with each rejection once it is durable (e.g. to publish it on `csm/v1/{hub}/rejected`). */
  onRejected?: (rejection: Rejection) => void;
  /** Called when a full batch waits in the spool (wakes the forwarder). */
  onBacklog?: () => void;
  /** How often a paused intake tries again, ms (default 1000). */
  retryMs?: number;
  /**
   * Flow control under overload: while storage takes readings (`flowing()`) but more than
   * `highWater` wait in the spool, committed messages are acknowledged only as the forwarder
   * catches up, so the excess waits at the devices instead of piling up in the spool (and its
   * latency). While storage is down the spool absorbs readings up to its quota instead.
   */
  backlog?: { highWater: number; flowing: () => boolean };
}

interface Entry {
  readings: Reading[] | undefined;
  /** The whole message refused. */
  rejection: Rejection | undefined;
  /** Metrics left out of an accepted message (partial acceptance), each kept as a dead letter. */
  dropped: Rejection[];
  done: (v: Verdict) => void;
  /** Its readings are in the spool (a batch retried after a failure does not write them twice). */
  spooled: boolean;
}

/**
 * Parses and checks one MQTT message against the topic scheme, the registry and the reading
 * schema: its readings, or why it is refused. A message whose readings are partly valid is
 * accepted with its valid metrics, and each metric left out is pushed to `dropped`. Pure but for
 * the registry lookup: the intake keeps what it returns; raw-tier readers (`steward rules`) read
 * the same readings from the same bytes.
 */
export function validateMessage(
  topic: string,
  payload: Buffer,
  ctx: { registry: Pick<Registry, 'getSensor'>; config: Pick<Config['ingest'], 'maxSkewMs' | 'maxPayloadBytes'>; now: number },
  dropped: Rejection[] = [],
): Reading[] | Rejection {
  const receivedAt = ctx.now;
  const refuse = (code: RejectionCode, reason: string, hub?: string, sensor?: string): Rejection => ({ topic, code, reason, hub, sensor, receivedAt, payload });
  const t = parseTopicCached(topic);
  if (!t || t.type !== 'data') return refuse('bad_topic', `topic "${topic.slice(0, 200)}" is not csm/v1/{hub}/{domain}/{sensor}/data with valid ids`);
  const reg = ctx.registry.getSensor(t.hub, t.sensor);
  if (!reg) return refuse('unregistered_sensor', `sensor "${t.sensor}" of hub "${t.hub}" is not registered`, t.hub, t.sensor);
  if (reg.domain !== t.domain) return refuse('topic_mismatch', `sensor "${t.sensor}" is registered for domain "${reg.domain}", not "${t.domain}"`, t.hub, t.sensor);
  const partial: RejectionError[] = [];
  try {
    const readings = parsePayload(payload, { hub: t.hub, domain: t.domain, sensor: t.sensor, now: receivedAt, maxSkewMs: ctx.config.maxSkewMs, maxBytes: ctx.config.maxPayloadBytes, site: reg.site, kind: reg.kind, onMetricRejected: (e) => partial.push(e) });
    for (const e of partial) dropped.push(refuse(e.code, e.message, t.hub, t.sensor));
    return readings;
  } catch (e) {
    if (e instanceof RejectionError) return refuse(e.code, e.message, t.hub, t.sensor);
    return refuse('schema', `could not parse: ${(e as Error).message}`, t.hub, t.sensor);
  }
}

/** Validates and durably keeps MQTT messages; see the module comment. */
export class Intake {
  readonly #o: IntakeOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #listeners = new Set<ReadingListener>();
  #queue: Entry[] = [];
  #scheduled = false;
  #pressure: Pressure | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Committed entries whose acknowledgement waits for the forwarder (flow control, in order). */
  #held: Entry[] = [];
  #heldTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: IntakeOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.logger.child({ component: 'intake' });
    o.metrics.spoolDepth.set(o.spool.depth());
  }

  /**
   * Validates one message and calls `done` once its readings are in the spool, or its rejection in
   * the dead letters. Never throws; while the spool is full `done` waits.
   */
  submit(topic: string, payload: Buffer, done: (v: Verdict) => void): void {
    const dropped: Rejection[] = [];
    const v = this.validate(topic, payload, dropped);
    const entry: Entry = Array.isArray(v) ? { readings: v, rejection: undefined, dropped, done, spooled: false } : { readings: undefined, rejection: v, dropped: [], done, spooled: false };
    this.#queue.push(entry);
    if (!this.#scheduled && !this.#pressure) {
      this.#scheduled = true;
      setImmediate(() => this.#commit());
    }
  }

  /**
   * Parses and checks a message without keeping it (see {@link validateMessage}); each metric left
   * out of a partly valid message is pushed to `dropped`.
   */
  validate(topic: string, payload: Buffer, dropped: Rejection[] = []): Reading[] | Rejection {
    return validateMessage(topic, payload, { registry: this.#o.registry, config: this.#o.config, now: this.#clock.now() }, dropped);
  }

  /** Called with each committed batch of accepted readings (raw tier: the rules engine). */
  onReadings(listener: ReadingListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Why acknowledgements are held, or undefined when the intake takes readings. */
  pressure(): Pressure | undefined {
    return this.#pressure ? { ...this.#pressure } : undefined;
  }

  /** Messages submitted and not yet acknowledged (not yet durable, or held by flow control). */
  waiting(): number {
    return this.#queue.length + this.#held.length;
  }

  /** Commits what is waiting now (graceful shutdown). Returns false if the spool refused it. */
  flush(): boolean {
    const ok = this.#queue.length === 0 || this.#commit();
    // Held entries are durable: on shutdown their acknowledgements go out.
    this.#releaseHeld(true);
    return ok;
  }

  /** Stops retrying. What is still waiting is not acknowledged (devices resend it). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#retry);
    this.#retry = undefined;
    clearInterval(this.#heldTimer);
    this.#heldTimer = undefined;
  }

  #commit(): boolean {
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return true;
    const { spool, deadLetters, metrics } = this.#o;
    const readings: Reading[] = [];
    const rejections: Rejection[] = [];
    for (const e of batch) {
      if (e.readings && !e.spooled) for (const r of e.readings) readings.push(r);
      if (e.rejection) rejections.push(e.rejection);
      for (const d of e.dropped) rejections.push(d);
    }
    try {
      // A spool whose rows are deleted as fast as they arrive reuses its own blocks and can go on
      // committing on a disk with no space left; a full disk still stops acknowledgements (the
      // dead letters, the log's checkpoints and everything else on it need space), fail closed.
      this.#checkDiskSpace();
      // One transaction for every reading of the batch; dead letters (rare) in their own store.
      // A batch that failed is retried whole; `spooled` keeps its readings from being written
      // twice when only the dead letters failed.
      if (readings.length) spool.append(readings);
      for (const e of batch) e.spooled = true;
      if (rejections.length) deadLetters.addMany(rejections);
    } catch (err) {
      this.#pause(err);
      return false;
    }
    this.#queue = [];
    if (this.#pressure) this.#resume();
    metrics.spoolDepth.set(spool.depth());
    if (spool.depth() >= this.#o.config.batchSize) this.#o.onBacklog?.();
    if (readings.length) {
      for (const l of this.#listeners) {
        try {
          l(readings);
        } catch (err) {
          this.#log.error({ err }, 'a reading listener failed');
        }
      }
    }
    if (this.#held.length || this.#overloaded()) {
      for (const e of batch) this.#held.push(e);
      this.#heldTimer ??= setInterval(() => this.#releaseHeld(), 5);
      return true;
    }
    this.#answer(batch);
    return true;
  }

  /** Storage takes readings but the spool's backlog is past its high-water mark. */
  #overloaded(): boolean {
    const b = this.#o.backlog;
    return b !== undefined && this.#o.spool.depth() > b.highWater && b.flowing();
  }

  #releaseHeld(force = false): void {
    if (!force && this.#overloaded() && !this.#closed) return;
    clearInterval(this.#heldTimer);
    this.#heldTimer = undefined;
    const held = this.#held;
    this.#held = [];
    this.#answer(held);
  }

  /** Calls the `done` of durable entries, in order. */
  #answer(batch: Entry[]): void {
    const { metrics } = this.#o;
    for (const e of batch) {
      try {
        if (e.readings) {
          const r = e.readings[0];
          if (r) metrics.readingsAccepted.inc({ hub: r.hub, domain: r.domain }, e.readings.length);
          e.done({ accepted: true, readings: e.readings });
          for (const d of e.dropped) {
            metrics.readingsRejected.inc({ code: d.code });
            this.#o.onRejected?.(d);
          }
        } else if (e.rejection) {
          metrics.readingsRejected.inc({ code: e.rejection.code });
          e.done({ accepted: false, ...e.rejection });
          this.#o.onRejected?.(e.rejection);
        }
      } catch (err) {
        this.#log.error({ err }, 'an intake callback failed');
      }
    }
  }

  #pause(err: unknown): void {
    const reason = this.#classify(err);
    const message =
      reason === 'spool_quota'
        ? `the spool has reached its quota of ${this.#o.spool.quotaBytes()} bytes; readings are not acknowledged until storage takes some`
        : reason === 'disk_full'
          ? 'the disk of the spool is full; readings are not acknowledged until space returns'
          : `the spool cannot be written (${(err as Error).message}); readings are not acknowledged`;
    const changed = this.#pressure?.reason !== reason;
    if (!this.#pressure || changed) {
      if (this.#pressure) this.#o.metrics.intakePaused.set({ reason: this.#pressure.reason }, 0);
      this.#pressure = { reason, message, since: this.#clock.now() };
      this.#o.metrics.intakePaused.set({ reason }, 1);
      this.#o.metrics.intakePauses.inc({ reason });
      const log = reason === 'spool_error' ? this.#log.error.bind(this.#log) : this.#log.warn.bind(this.#log);
      log({ err, reason, waiting: this.#queue.length, spoolDepth: this.#o.spool.depth() }, `intake paused: ${message}`);
    }
    if (!this.#retry && !this.#closed) {
      // Ref'd on purpose: a role that is holding readings must stay alive to retry them.
      this.#retry = setInterval(() => this.#commit(), this.#o.retryMs ?? 1000);
    }
  }

  #resume(): void {
    const p = this.#pressure!;
    clearInterval(this.#retry);
    this.#retry = undefined;
    this.#pressure = undefined;
    this.#o.metrics.intakePaused.set({ reason: p.reason }, 0);
    this.#log.warn({ reason: p.reason, pausedMs: this.#clock.now() - p.since }, 'intake resumed: readings are acknowledged again');
  }

  /** Free space of the spool's disk, statfs'd at most every 500 ms. */
  #space = { at: 0, full: false };

  /** Throws ENOSPC while the spool's disk has less than {@link MIN_FREE_BYTES} left. */
  #checkDiskSpace(): void {
    const now = Date.now();
    if (now - this.#space.at >= 500) {
      this.#space.at = now;
      try {
        const s = statfsSync(this.#o.spool.dir);
        this.#space.full = s.bavail * s.bsize < MIN_FREE_BYTES;
      } catch {
        this.#space.full = false; // statfs unavailable: the spool's own errors tell
      }
    }
    if (this.#space.full) throw Object.assign(new Error('no space left on the spool’s disk'), { code: 'ENOSPC' });
  }

  #classify(err: unknown): PressureReason {
    const code = (err as { code?: string }).code ?? '';
    const full = code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || (err as NodeJS.ErrnoException).code === 'ENOSPC';
    if (!full) return 'spool_error';
    if (this.#o.spool.quotaBytes() > 0 && this.#o.spool.sizeBytes() >= this.#o.spool.quotaBytes() * 0.98) return 'spool_quota';
    try {
      const s = statfsSync(this.#o.spool.dir);
      if (s.bavail * s.bsize < MIN_FREE_BYTES) return 'disk_full';
    } catch {
      // statfs unavailable: fall through
    }
    return code === 'SQLITE_FULL' ? 'disk_full' : 'spool_error';
  }
}
