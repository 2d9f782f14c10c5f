/**
 * What a rule kind is: a schema for its own fields, the metrics it reads, how much history it
 * needs, and `evaluate`, which turns what the engine knows about one subject into an observation
 * (condition active or not, with the numbers). Kinds are pure: no I/O, no clock of their own.
 */
import type { z } from 'zod';
import type { Domain } from '../../core/ids.ts';
import type { Point } from '../../core/trend.ts';
import type { AggregateFn } from '../spec.ts';

/** A sensor that belongs to a subject. */
export interface Member {
  hub: string;
  sensor: string;
  site: string;
  domain: Domain;
}

/** What the alert is about: one sensor, or a group of sensors (a site or a hub). */
export type Scope = 'sensor' | 'site' | 'hub';

/**
 * The engine's view of one subject, in sensor time unless stated. Points are raw for a sensor
 * subject and aggregated across members for a group (per the rule's `aggregate`).
 */
export interface SubjectView {
  readonly hub: string;
  /** Sensor id, site id or hub id: the last level of the alert topic. */
  readonly subject: string;
  readonly scope: Scope;
  /** Aggregation function across members, when the rule aggregates. */
  readonly fn: AggregateFn | undefined;
  readonly members: readonly Member[];
  /** Newest sensor timestamp over the members' series of these metrics. */
  latestTs(metrics: readonly string[]): number | undefined;
  /** The newest value: of the sensor, or `fn` over the members' newest non-stale values. */
  instant(metric: string): { ts: number; value: number; n: number } | undefined;
  /** Points with `from <= ts <= to`; for a group, `fn` across members per aggregation step. */
  points(metric: string, from: number, to: number): Point[];
  /** Raw points of each member (optionally filtered) with `from <= ts <= to`. */
  memberPoints(metric: string, from: number, to: number, filter?: (m: Member) => boolean): Array<{ member: Member; points: Point[] }>;
  /**
   * Wall-clock time the newest reading of any member arrived (deadman), with that member, and the
   * usual wall-clock gap between arrivals (shortest among members; undefined until learned).
   */
  lastSeen(): { at: number; member: Member; gapMs?: number; never?: boolean } | undefined;
  /** Individuals per species detected with `from <= ts <= to` (biodiversity). */
  species(from: number, to: number): Map<string, number>;
}

/** What `evaluate` knows besides the data. */
export interface EvalContext {
  /** Wall clock, epoch ms (deadman only; everything else runs on sensor time). */
  now: number;
  /** Is the alert currently pending or firing? (hysteresis) */
  active: boolean;
}

/** The result of evaluating one subject. */
export interface Observation {
  /** Is the condition met? */
  active: boolean;
  /** Time of the observation: sensor time, or wall clock for deadman. */
  ts: number;
  /** The main number (e.g. the value, the rate, the days to the floor). */
  value?: number;
  unit?: string;
  /** The numbers behind the summary, for the API, MQTT and webhooks. */
  facts: Record<string, number | string>;
  /** Plain words: what, where, and the numbers (without "since"; the engine adds it). */
  summary: string;
}

/** How a kind is evaluated. */
export type Mode = 'stream' | 'window' | 'deadman';

/** A rule kind. `R` is the kind's parsed rule type. */
export interface KindDefinition<R> {
  kind: string;
  /** `stream`: on each reading; `window`: on the rule's schedule, on sensor time; `deadman`: on schedule, wall clock. */
  mode: Mode;
  /** One line for docs and `steward rules check`. */
  description: string;
  /** Full schema of a rule of this kind (common fields + its own). */
  schema: z.ZodType<R>;
  /** Catalogue metrics the rule reads ([] = any reading counts, deadman). */
  metrics(rule: R): string[];
  /** Sensor-time history needed per series, ms (0 = none). */
  spanMs(rule: R): number;
  /** Evaluates one subject; undefined = not enough data to say (the alert keeps its state). */
  evaluate(rule: R, view: SubjectView, ctx: EvalContext): Observation | undefined;
}
