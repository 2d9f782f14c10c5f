/**
 * The storage contract against the embedded store: real SQLite files in a temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from '../storage/embedded.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { runStoreContract } from './storage-contract.ts';

runStoreContract('embedded (SQLite)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-embedded-'));
  const store = createEmbeddedStore({ dataDir, logger: silentLogger, metrics: createMetrics() });
  await store.start();
  return {
    store,
    async close() {
      await store.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
