/**
 * The `privacy` section of the config, proposed for core/config.ts (`privacy: privacyConfigSchema`
 * in `configSchema`), and the one-call setup the roles use. Secrets (keys, the upstream
 * password) may come from the environment instead of the file: see {@link applyPrivacyEnv}.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { type PrivacyBoundary, createPrivacyBoundary } from './boundary.ts';
import { KEY_ID_PATTERN, MIN_SECRET_LENGTH, type Keyring, createKeyring } from './keys.ts';
import { DEFAULT_POLICY_PATH } from './policy.ts';
import { type PolicyWatcher, createPolicyWatcher } from './watcher.ts';

export const privacyConfigSchema = z
  .strictObject({
    /** Policy file (YAML). Default: privacy/policies/default.yaml as shipped. */
    policyFile: z.string().min(1).optional(),
    /** How often the policy file is checked for changes, ms; 0 = never reload. */
    reloadIntervalMs: z.number().int().nonnegative().default(2000),
    /** Pseudonymisation keys: id -> secret. `STEWARD_PRIVACY_KEY_<ID>` adds or overrides one. */
    keys: z.record(z.string().regex(KEY_ID_PATTERN, `key ids must match ${KEY_ID_PATTERN.source}`), z.string().min(MIN_SECRET_LENGTH, `secrets need at least ${MIN_SECRET_LENGTH} characters`)).default({}),
    /** Create a key the policy names but no one configured, once, under `<dataDir>/privacy-keys/` (mode 0600). */
    generateKeys: z.boolean().default(true),
    /** Open data on MQTT: `public/v1/{hub}/{domain}/{sensor}`. */
    public: z.strictObject({ mqtt: z.boolean().default(true), retain: z.boolean().default(true) }).prefault({}),
    /** The regional network; off when absent. */
    upstream: z
      .strictObject({
        url: z.string().regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
        username: z.string().optional(),
        password: z.string().optional(),
        clientId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
        topicPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/).default('public/v1'),
        maxBuffered: z.number().int().positive().default(1_000_000),
        maxInflight: z.number().int().positive().max(65_535).default(20),
        alertSeverities: z.array(z.string().min(1)).default(['critical']),
      })
      .optional(),
  })
  .prefault({});

export type PrivacyConfig = z.output<typeof privacyConfigSchema>;

/**
 * Environment overrides of the privacy section (to call from core/config.ts `applyEnv`):
 * `STEWARD_PRIVACY_POLICY` (policyFile), `STEWARD_UPSTREAM_URL`, `STEWARD_UPSTREAM_USERNAME`,
 * `STEWARD_UPSTREAM_PASSWORD`. Keys come from `STEWARD_PRIVACY_KEY_<ID>` at keyring creation.
 */
export function applyPrivacyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  const privacy = ((out.privacy as Record<string, unknown> | undefined) ??= {});
  if (env.STEWARD_PRIVACY_POLICY) privacy.policyFile = env.STEWARD_PRIVACY_POLICY;
  if (env.STEWARD_UPSTREAM_URL) {
    const up = ((privacy.upstream as Record<string, unknown> | undefined) ??= {});
    up.url = env.STEWARD_UPSTREAM_URL;
  }
  for (const [e, k] of [
    ['STEWARD_UPSTREAM_USERNAME', 'username'],
    ['STEWARD_UPSTREAM_PASSWORD', 'password'],
  ] as const) {
    if (env[e] && privacy.upstream) (privacy.upstream as Record<string, unknown>)[k] = env[e];
  }
  return out;
}

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
export function createPrivacy(o: { config: PrivacyConfig; dataDir: string; logger: Logger; metrics?: Pick<PipelineMetrics, 'privacyActions'>; clock?: Clock; env?: NodeJS.ProcessEnv }): Privacy {
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
  const boundary = createPrivacyBoundary({ policy: watcher, dataDir: o.dataDir, logger: log, clock: o.clock ?? systemClock, ...(o.metrics ? { metrics: o.metrics } : {}) });
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
