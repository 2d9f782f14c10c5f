/** What both stores record about every write: its time by outcome, and what storage refused. */
import type { WriteOutcome } from '../core/store.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';

/**
 * Runs one write of a store and records it: the time it took by outcome (`ok`; `partial`, some
 * readings refused for good, counted and logged once with the first reason; `retryable`, it threw,
 * counted and rethrown). `what` names the refused items in the log line (readings, points).
 */
export async function recordWrite(
  o: { store: string; metrics: PipelineMetrics | undefined; log: Logger; what: string },
  write: () => Promise<WriteOutcome>,
): Promise<WriteOutcome> {
  const started = performance.now();
  let outcome = 'ok';
  try {
    const result = await write();
    if (result.rejected.length) {
      outcome = 'partial';
      o.metrics?.storageErrors.inc({ store: o.store, retryable: 'false' }, result.rejected.length);
      o.log.warn({ written: result.written, rejected: result.rejected.length, first: result.rejected[0] }, `storage refused ${o.what} for good`);
    }
    return result;
  } catch (e) {
    outcome = 'retryable';
    o.metrics?.storageErrors.inc({ store: o.store, retryable: 'true' });
    throw e;
  } finally {
    o.metrics?.storageWriteSeconds.observe({ store: o.store, outcome }, (performance.now() - started) / 1000);
  }
}
