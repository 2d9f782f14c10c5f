/**
 * Test helpers for the API's unit tests: an app over the real embedded store, registry and
 * dead-letter store in a temporary data dir (no doubles).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock.ts';
import { type Config, parseConfig } from '../core/config.ts';
import { Registry } from '../registry/index.ts';
import { DeadLetterStore } from '../storage/index.ts';
import { createEmbeddedStore } from '../storage/index.ts';
import type { ReadingStore, StoredReading } from '../core/store.ts';
import { createMetrics, type PipelineMetrics } from '../telemetry/metrics.ts';
import { silentLogger } from '../telemetry/log.ts';
import { buildApp } from './app.ts';
import type { ApiOptions } from './context.ts';

/** Tokens every test app accepts. */
export const TOKENS = {
  technician: 'tech-token-0123456789abcdef',
  steward: 'steward-token-0123456789abcdef',
} as const;

export interface TestApi {
  app: FastifyInstance;
  config: Config;
  registry: Registry;
  deadLetters: DeadLetterStore;
  metrics: PipelineMetrics;
  store: ReadingStore;
  dataDir: string;
  /** Stores readings in the store (throws if the store refuses one). */
  seed(readings: StoredReading[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds an app over a fresh data dir (registry and dead letters real), with `TOKENS` configured.
 * `rawConfig` is merged into the config before validation.
 */
export async function makeTestApi(
  opts: { store?: ReadingStore; rawConfig?: Record<string, unknown>; clock?: Clock; extra?: Partial<ApiOptions> } = {},
): Promise<TestApi> {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-api-'));
  const raw = opts.rawConfig ?? {};
  const http = (raw.http ?? {}) as Record<string, unknown>;
  const config = parseConfig({
    ...raw,
    dataDir,
    http: {
      tokens: [
        { name: 'tech', token: TOKENS.technician, role: 'technician' },
        { name: 'stew', token: TOKENS.steward, role: 'steward' },
      ],
      ...http,
    },
  });
  const registry = Registry.open(dataDir);
  const deadLetters = new DeadLetterStore(dataDir);
  const metrics = createMetrics();
  const store = opts.store ?? createEmbeddedStore({ dataDir, logger: silentLogger, retentionDays: 0 });
  await store.start();
  const apiOpts: ApiOptions = { config, store, registry, deadLetters, metrics, logger: silentLogger, ...opts.extra };
  if (opts.clock) apiOpts.clock = opts.clock;
  const app = await buildApp(apiOpts);
  return {
    app,
    config,
    registry,
    deadLetters,
    metrics,
    store,
    dataDir,
    async seed(readings) {
      const out = await store.write(readings);
      if (out.rejected.length) throw new Error(`store refused test readings: ${JSON.stringify(out.rejected)}`);
    },
    async close() {
      await app.close();
      await store.stop();
      registry.close();
      deadLetters.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
