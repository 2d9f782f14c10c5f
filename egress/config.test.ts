import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { applyPrivacyEnv, createPrivacy, privacyConfigSchema } from './config.ts';
import { reading } from '../privacy/testing.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('the config section has safe defaults and refuses weak keys and bad URLs, naming the key', () => {
  expect(privacyConfigSchema.parse(undefined)).toEqual({ reloadIntervalMs: 2000, keys: {}, generateKeys: true, public: { mqtt: true, retain: true } });
  const weak = privacyConfigSchema.safeParse({ keys: { hub: 'short' } });
  expect(weak.success).toBe(false);
  expect(weak.error?.issues[0]?.path).toEqual(['keys', 'hub']);
  expect(privacyConfigSchema.safeParse({ upstream: { url: 'http://region' } }).success).toBe(false);
  expect(privacyConfigSchema.safeParse({ polcyFile: 'x' }).success).toBe(false);
  expect(privacyConfigSchema.parse({ upstream: { url: 'mqtts://region.example.org:8883' } }).upstream).toMatchObject({ topicPrefix: 'public/v1', maxInflight: 20, alertSeverities: ['critical'] });
});

it('environment overrides for the policy file and the upstream', () => {
  const out = applyPrivacyEnv({}, { STEWARD_PRIVACY_POLICY: '/etc/p.yaml', STEWARD_UPSTREAM_URL: 'mqtt://r', STEWARD_UPSTREAM_PASSWORD: 'pw' });
  expect(out).toEqual({ privacy: { policyFile: '/etc/p.yaml', upstream: { url: 'mqtt://r', password: 'pw' } } });
});

it('createPrivacy: default policy, a generated key under the data dir, a working boundary', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-privacy-cfg-'));
  dirs.push(dataDir);
  const p = createPrivacy({ config: privacyConfigSchema.parse({}), dataDir, logger: silentLogger, metrics: createMetrics(), env: {} });
  p.start();
  try {
    expect(p.watcher.current().version).toBe('default-3');
    expect(existsSync(join(dataDir, 'privacy-keys', 'hub.key'))).toBe(true);
    expect(p.boundary.apply(reading({ domain: 'energy', metrics: { battery_soc: 1 }, attributes: { household_id: 'H-1' } }))?.attributes?.household_id).toMatch(/^hub:/);
    expect(existsSync(join(dataDir, 'privacy-households.db'))).toBe(true);
  } finally {
    p.stop();
  }
  expect(() => createPrivacy({ config: privacyConfigSchema.parse({ generateKeys: false }), dataDir: join(dataDir, 'other'), logger: silentLogger, env: {} })).toThrow(/key "hub" is not configured/);
});
