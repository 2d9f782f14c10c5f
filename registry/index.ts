/** The public face of registry/: what other roles may use (docs/architecture.md). */
export { startRegistryMirror } from './cluster.ts';
export { ACCOUNT_ROLES, Registry, TOKEN_ROLES, deviceUsername, normaliseEui, type Principal, type SensorEntry } from './registry.ts';
