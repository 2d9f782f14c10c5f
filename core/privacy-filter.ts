/**
 * The privacy port: what ingest's forwarder calls between the spool and the store. Every reading
 * passes `apply` before it is stored for dashboards or published. Implementations: the fixed
 * fallback `createDefaultFilter` (privacy/) and the policy-driven boundary with its household
 * aggregator `createPrivacyBoundary` (egress/).
 */
import type { Reading } from './reading.ts';
import type { StoredReading } from './store.ts';

export interface PrivacyFilter {
  /** Version of the policy; carried by every record it produces. */
  readonly version: string;
  /**
   * Filters one reading. Returns undefined when nothing of it may leave the raw tier.
   * Must never throw for a reading that passed validation; if it does, the caller withholds it.
   */
  apply(r: Reading): StoredReading | undefined;
  /**
   * Aggregates (e.g. household area totals) ready to store, oldest first (at most `limit`).
   * Store them, then call `ack`; until then they are returned again, unchanged.
   */
  drain?(now?: number, limit?: number): StoredReading[];
  /** Marks drained records as stored. */
  ack?(records: readonly StoredReading[]): void;
}
