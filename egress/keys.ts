/**
 * Where the secrets of keyed pseudonymisation come from (the HMAC itself is privacy/keys.ts):
 * the config (`privacy.keys: { <id>: <secret> }`), the environment
 * (`STEWARD_PRIVACY_KEY_<ID>=<secret>`, the id lower-cased; it wins over the config), or a key
 * file `<dir>/<id>.key`, generated once when allowed. They are never logged and never appear in
 * an error message.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Keyring, PrivacyError, checkKey, checkKeyId } from '../privacy/index.ts';

/** Environment variables that carry keys: `STEWARD_PRIVACY_KEY_<ID>`. */
export const KEY_ENV_PREFIX = 'STEWARD_PRIVACY_KEY_';

/** Where pseudonymisation secrets come from, by key id. */
export interface KeyringOptions {
  /** `privacy.keys` of the config: key id -> secret. */
  keys?: Record<string, string>;
  /** Environment (default `process.env`); `STEWARD_PRIVACY_KEY_HUB_2025` defines key `hub_2025`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Directory of key files `<id>.key` (e.g. `<dataDir>/privacy-keys`). With `generate`, a key the
   * policy names that exists nowhere is created there once (random 32 bytes, hex, mode 0600), so
   * a hub works out of the box and keeps its pseudonyms stable across restarts.
   */
  dir?: string;
  generate?: boolean;
  /** Told (id and file, never the secret) when a key is generated. */
  onGenerated?: (id: string, file: string) => void;
}

/** Key id -> secret, from the config, the environment and key files. */
class FileKeyring implements Keyring {
  readonly #keys = new Map<string, Buffer>();
  readonly #o: KeyringOptions;

  constructor(o: KeyringOptions = {}) {
    this.#o = o;
    const keys = o.keys ?? {};
    for (const id of Object.keys(keys)) {
      const secret = Object.prototype.hasOwnProperty.call(keys, id) ? keys[id] : undefined;
      if (typeof secret === 'string') this.#add(id, secret, `privacy.keys.${id}`);
    }
    for (const [name, value] of Object.entries(o.env ?? process.env)) {
      if (!name.startsWith(KEY_ENV_PREFIX) || value === undefined || value === '') continue;
      this.#add(name.slice(KEY_ENV_PREFIX.length).toLowerCase(), value, `environment ${name}`);
    }
  }

  #add(id: string, secret: string, source: string): void {
    this.#keys.set(id, checkKey(id, secret, source));
  }

  /**
   * The secret of key `id`: from the config or environment, else from `<dir>/<id>.key`, else
   * generated there when allowed; undefined when it exists nowhere.
   *
   * @throws PrivacyError `PRIVACY_ERR_KEY` when the id is malformed or a key file is unreadable or too short
   */
  get(id: string): Buffer | undefined {
    checkKeyId(id);
    const known = this.#keys.get(id);
    if (known) return known;
    const dir = this.#o.dir;
    if (!dir) return undefined;
    const file = join(dir, `${id}.key`);
    if (existsSync(file)) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8').trim();
      } catch (e) {
        throw new PrivacyError('PRIVACY_ERR_KEY', `key file ${file} cannot be read: ${(e as Error).message}`);
      }
      this.#add(id, text, `key file ${file}`);
      return this.#keys.get(id);
    }
    if (!this.#o.generate) return undefined;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const secret = randomBytes(32).toString('hex');
    // `wx`: never overwrite a key another process created meanwhile; read that one instead.
    try {
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      this.#o.onGenerated?.(id, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new PrivacyError('PRIVACY_ERR_KEY', `key file ${file} cannot be written: ${(e as Error).message}`);
      return this.get(id);
    }
    this.#keys.set(id, Buffer.from(secret, 'utf8'));
    return this.#keys.get(id);
  }
}

/**
 * Builds the keyring from the config section, the environment and the key files.
 *
 * @throws PrivacyError `PRIVACY_ERR_KEY` naming the key id (never the secret) when an id is malformed or a secret too short
 */
export function createKeyring(o: KeyringOptions = {}): Keyring {
  return new FileKeyring(o);
}
