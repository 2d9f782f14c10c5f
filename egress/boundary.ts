/**
 * The privacy boundary between the raw tier and everything that is stored for dashboards or
 * published. `createPrivacyBoundary` runs the compiled policy (privacy/) with the state it needs —
 * the household aggregator (households.ts) and the names the hub knows (names.ts) — behind the
 * `PrivacyFilter` port the forwarder uses (core/privacy-filter.ts). Wiring: egress/README.md.
 */
import { type Clock, systemClock } from '../core/clock.ts';
import type { PrivacyFilter } from '../core/privacy-filter.ts';
import type { Reading } from '../core/reading.ts';
import type { StoredReading } from '../core/store.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { type ActionSink, type CompiledPolicy, type FilterEnv, type PolicySource, type PrivacyAction, PrivacyError } from '../privacy/index.ts';
import { type AggregatorStats, HouseholdAggregator } from './households.ts';
import { NameBook } from './names.ts';

/**
 * The policy-driven boundary: per-reading filtering (`apply`) plus the household groups it
 * publishes when their windows close (`drain`, then `ack` once stored).
 */
export interface PrivacyBoundary extends PrivacyFilter {
  /** Version of the policy in force now (it changes when the watcher reloads the policy). */
  readonly version: string;
  /**
   * Filters one reading under the policy in force. Returns undefined when nothing of it may be
   * stored by itself (e.g. one household's load, taken into its area group instead).
   * @throws PrivacyError `PRIVACY_ERR_UNFILTERABLE` (fail closed: the caller withholds and dead-letters it)
   */
  apply(r: Reading): StoredReading | undefined;
  /**
   * Decides the household groups whose windows have closed and returns the published ones not yet
   * acknowledged, oldest first (at most `limit`). Store them, then call `ack`; until then they are
   * returned again, unchanged.
   */
  drain(now?: number, limit?: number): StoredReading[];
  /** Marks drained group records as stored. */
  ack(records: readonly StoredReading[]): void;
  /** The policy in force. */
  policy(): CompiledPolicy;
  stats(): AggregatorStats;
  /** Every name the scrubber removes (learned observers and the name sources): for tests and audits. */
  knownNames(): string[];
  /** Closes the aggregator's state file; open groups wait in it for the next start. Idempotent. */
  stop(): void;
}

/** Options of {@link createPrivacyBoundary}. */
export interface PrivacyBoundaryOptions {
  /** The policy in force: a watcher (reloads) or `fixedPolicy(compiled)`. */
  policy: PolicySource;
  /** Directory of the aggregator's state (`privacy-households.db`); in memory when absent (tests only). */
  dataDir?: string;
  /** `privacyActions{action}` (and `privacyScrubbed{kind}`, when given) are counted here. */
  metrics?: Pick<PipelineMetrics, 'privacyActions'> & Partial<Pick<PipelineMetrics, 'privacyScrubbed'>>;
  /**
   * Names the scrubber removes besides the observers the boundary learns (account holders: see
   * `registryAccountNames`). Read again every 30 s.
   */
  nameSources?: ReadonlyArray<() => Iterable<string>>;
  logger?: Logger;
  clock?: Clock;
  /** Uniform numbers in (0, 1) for the household noise (default: the OS's secure random source). Tests only. */
  noiseUniform?: () => number;
}

/**
 * Builds the boundary. Opens the aggregator's state file; touches no network.
 *
 * @throws Error when the state file cannot be opened
 */
export function createPrivacyBoundary(o: PrivacyBoundaryOptions): PrivacyBoundary {
  const clock = o.clock ?? systemClock;
  const count: ActionSink = (action: PrivacyAction, n = 1) => {
    if (n > 0) o.metrics?.privacyActions.inc({ action }, n);
  };
  const aggregator = new HouseholdAggregator({
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    clock,
    actions: count,
    ...(o.noiseUniform ? { uniform: o.noiseUniform } : {}),
    onSuppressed: (i) => o.logger?.debug({ hub: i.hub, area: i.area, window: new Date(i.windowStart).toISOString(), reason: i.reason, households: i.households }, 'household group suppressed'),
  });
  const names = new NameBook({ ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.nameSources ? { sources: o.nameSources } : {}), now: () => clock.now() });
  const scrubbed = (kind: string, n: number): void => {
    if (n > 0) o.metrics?.privacyScrubbed?.inc({ kind }, n);
  };
  let stopped = false;
  // Groups opened under a policy with households rules are still decided after a reload drops them.
  let lastHouseholds = o.policy.current().households;
  const live = (): void => {
    if (stopped) throw new PrivacyError('PRIVACY_ERR_STATE', 'the privacy boundary was used after stop()');
  };
  return {
    get version() {
      return o.policy.current().version;
    },
    policy: () => o.policy.current(),
    apply(r) {
      live();
      const p = o.policy.current();
      // An observer's name is known from now on: a note about them in any later reading loses it.
      const observer = r.attributes?.observer_name;
      if (typeof observer === 'string') names.learn(observer);
      const env: FilterEnv = { names: names.matcher(), scrubbed };
      const res = p.filter(r, count, env);
      if (res.type === 'record') return res.record;
      if (res.type === 'household') {
        // filter() only yields household outcomes for policies with a households section.
        lastHouseholds = p.households!;
        aggregator.add(res.contribution, lastHouseholds);
      }
      return undefined;
    },
    drain(now = clock.now(), limit = 1000) {
      live();
      const p = o.policy.current();
      const rules = p.households ?? lastHouseholds;
      if (!rules) return [];
      return aggregator.drain(now, rules, p.version, limit);
    },
    ack(records) {
      live();
      aggregator.ack(records);
    },
    stats: () => aggregator.stats(),
    knownNames: () => names.names(),
    stop() {
      if (stopped) return;
      stopped = true;
      aggregator.close();
      names.close();
    },
  };
}
