/**
 * The one-call setup the roles use: keyring (config, environment, key files), the policy file
 * (loaded and compiled now, then watched), and the boundary with its state under the data dir.
 * The config section itself (`privacy`) is core/config.ts's; it is re-exported here. Secrets (keys,
 * the upstream password) may come from the environment instead of the file: see {@link applyPrivacyEnv}.
 */
import { join } from 'node:path';
import { type Clock, systemClock } from '../core/clock.ts';
import { type PrivacyConfig, applyPrivacyEnv, privacyConfigSchema } from '../core/config.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { DEFAULT_POLICY_PATH, type Keyring } from '../privacy/index.ts';
import { type PrivacyBoundary, createPrivacyBoundary } from './boundary.ts';
import { createKeyring } from './keys.ts';
import { registryAccountNames } from './names.ts';
import { type PolicyWatcher, createPolicyWatcher } from './watcher.ts';

export { type PrivacyConfig, applyPrivacyEnv, privacyConfigSchema };

/** What {@link createPrivacy} builds. */
export interface Privacy {
  keyring: Keyring;
  /** Serves the policy in force; `start()` it to reload on change. */
  watcher: PolicyWatcher;
  /** Hand it to ingest as `privacy` (it is a `PrivacyFilter`). */
  boundary: PrivacyBoundary;
  /** Starts reloading the policy (if `reloadIntervalMs` > 0). */
  start(): void;
  /** Stops reloading and closes the boundary's state. */
  stop(): void;
}

/**
 * Keyring, policy (loaded and compiled now: fails fast) and boundary, from the config.
 *
 * @throws PrivacyError when the policy cannot be loaded (invalid, publishes a personal field, missing key)
 */
export function createPrivacy(o: {
  config: PrivacyConfig;
  dataDir: string;
  logger: Logger;
  metrics?: Pick<PipelineMetrics, 'privacyActions'> & Partial<Pick<PipelineMetrics, 'privacyScrubbed'>>;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** More names for the scrubber (e.g. the API's token names); the registry's account names are always read. */
  nameSources?: ReadonlyArray<() => Iterable<string>>;
}): Privacy {
  const log = o.logger.child({ role: 'privacy' });
  const keyring = createKeyring({
    keys: o.config.keys,
    env: o.env ?? process.env,
    dir: join(o.dataDir, 'privacy-keys'),
    generate: o.config.generateKeys,
    onGenerated: (id, file) => log.warn({ key: id, file }, 'generated a pseudonymisation key; back it up with the data dir (losing it changes every pseudonym)'),
  });
  const path = o.config.policyFile ?? DEFAULT_POLICY_PATH;
  const watcher = createPolicyWatcher({ path, keyring, logger: log, intervalMs: o.config.reloadIntervalMs || 2000 });
  log.info({ policy: path, version: watcher.current().version }, 'privacy policy in force');
  const boundary = createPrivacyBoundary({
    policy: watcher,
    dataDir: o.dataDir,
    logger: log,
    clock: o.clock ?? systemClock,
    nameSources: [registryAccountNames(o.dataDir), ...(o.nameSources ?? [])],
    ...(o.metrics ? { metrics: o.metrics } : {}),
  });
  return {
    keyring,
    watcher,
    boundary,
    start() {
      if (o.config.reloadIntervalMs > 0) watcher.start();
    },
    stop() {
      watcher.stop();
      boundary.stop();
    },
  };
}
