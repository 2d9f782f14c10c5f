/**
 * Validates the `connectors` section against the registered formats and loads the mapping
 * profiles: what `steward connect check` prints and what the role refuses to start with.
 * @module
 */
import type { Config } from '../core/config.ts';
import { getFormat, FORMATS } from './all.ts';
import { loadProfiles, ProfileError, type Profile } from './mapping.ts';
import type { ConnectorFormat, SourceConfig } from './types.ts';

/** A source ready to run: its format, validated options, credentials and subscription. */
export interface ResolvedSource {
  config: SourceConfig;
  format: ConnectorFormat<unknown>;
  options: unknown;
  mqtt?: { url: string; username?: string; password?: string; clientId: string; topics: string[]; qos: 0 | 1 };
  webhookSecret?: string;
}

export type CheckResult = { ok: true; sources: ResolvedSource[]; profiles: Profile[] } | { ok: false; errors: string[] };

/** `$STEWARD_CONNECTOR_<NAME>_<WHAT>` with the name upper-cased and `-` as `_`. */
export function envName(source: string, what: 'PASSWORD' | 'SECRET'): string {
  return `STEWARD_CONNECTOR_${source.toUpperCase().replace(/-/g, '_')}_${what}`;
}

export function checkConnectors(config: Config, env: NodeJS.ProcessEnv = process.env): CheckResult {
  const errors: string[] = [];
  const sources: ResolvedSource[] = [];
  config.connectors.sources.forEach((s, i) => {
    const key = `connectors.sources.${i}`;
    const format = getFormat(s.format);
    if (!format) {
      errors.push(`${key}.format: unknown format "${s.format}"; one of ${Object.keys(FORMATS).join(', ')}`);
      return;
    }
    const opts = format.options.safeParse(s.options);
    if (!opts.success) for (const iss of opts.error.issues) errors.push(`${key}.options${iss.path.length ? '.' + iss.path.join('.') : ''}: ${iss.message}`);
    const r: ResolvedSource = { config: s, format, options: opts.success ? opts.data : undefined };
    if (s.mqtt) {
      if (!format.fromMqtt) errors.push(`${key}.mqtt: format ${s.format} has no MQTT side`);
      const topics = s.mqtt.topics ?? format.defaultTopics;
      if (!topics.length) errors.push(`${key}.mqtt.topics: format ${s.format} needs the topics to subscribe to`);
      const password = s.mqtt.password ?? env[envName(s.name, 'PASSWORD')];
      r.mqtt = {
        url: s.mqtt.url,
        clientId: s.mqtt.clientId ?? `steward-connect-${s.name}`,
        topics,
        qos: s.mqtt.qos ?? format.defaultQos,
        ...(s.mqtt.username !== undefined ? { username: s.mqtt.username } : {}),
        ...(password !== undefined ? { password } : {}),
      };
    }
    if (s.webhook) {
      if (!format.fromWebhook) errors.push(`${key}.webhook: format ${s.format} has no webhook side`);
      const secret = s.webhook.secret ?? env[envName(s.name, 'SECRET')];
      if (!secret || secret.length < 16) errors.push(`${key}.webhook.secret: a secret of at least 16 characters is needed (or $${envName(s.name, 'SECRET')})`);
      else r.webhookSecret = secret;
    }
    sources.push(r);
  });
  let profiles: Profile[] = [];
  try {
    profiles = loadProfiles(config.connectors.profiles);
  } catch (e) {
    if (e instanceof ProfileError) errors.push(...e.problems);
    else throw e;
  }
  if (config.connectors.sources.length && !profiles.length && !errors.length) errors.push('connectors.profiles: no mapping profile found: name the YAML files or directories of your device profiles');
  return errors.length ? { ok: false, errors } : { ok: true, sources, profiles };
}
