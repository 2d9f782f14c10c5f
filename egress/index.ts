/**
 * egress/: everything around the privacy policy that has state or does I/O — the boundary the
 * forwarder calls (policy + household groups + known names), key files, loading and reloading the
 * policy file, the one-call setup `createPrivacy`, and the two ways records leave the hub: public
 * MQTT and the regional upstream. The policy itself (pure) is privacy/. README.md tells the wiring.
 */
export { applyPrivacyEnv, createPrivacy, privacyConfigSchema } from './config.ts';
export type { Privacy, PrivacyConfig } from './config.ts';
export { createPrivacyBoundary } from './boundary.ts';
export type { PrivacyBoundary, PrivacyBoundaryOptions } from './boundary.ts';
export { HOUSEHOLDS_DB, HouseholdAggregator, secureUniform } from './households.ts';
export type { AggregatorStats, HouseholdAggregatorOptions } from './households.ts';
export { NAMES_DB, NameBook, registryAccountNames } from './names.ts';
export type { NameBookOptions } from './names.ts';
export { KEY_ENV_PREFIX, createKeyring } from './keys.ts';
export type { KeyringOptions } from './keys.ts';
export { loadPolicy, readPolicyFile } from './policy-file.ts';
export { createPolicyWatcher } from './watcher.ts';
export type { PolicyWatcher, PolicyWatcherOptions, ReloadResult } from './watcher.ts';
export { createPublicPublisher, publicTopic } from './public-publisher.ts';
export type { PublicPublisher, PublicPublisherOptions, PublishFn, PublishOutcome } from './public-publisher.ts';
export { UPSTREAM_DB, createUpstream, scrubAlertPayload } from './upstream.ts';
export type { OutboxRow, Upstream, UpstreamAlert, UpstreamHandover, UpstreamOptions, UpstreamStats } from './upstream.ts';
