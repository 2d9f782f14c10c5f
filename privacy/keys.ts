/**
 * Keyed pseudonymisation (HMAC-SHA256, never a plain hash: household ids and names are guessable,
 * so a hash of them is reversible by trying them all). Keys have ids; the policy names the id it
 * uses. Rotating = adding a new key and naming it in the policy: every pseudonym changes.
 *
 * The key material is given: a `Keyring` hands out secrets by id. `memoryKeyring` holds secrets
 * it is given; egress's `createKeyring` adds the environment and key files on disk. Secrets never
 * appear in an error message.
 */
import { createHmac } from 'node:crypto';
import { PRIVACY_KEY_ID_PATTERN, PRIVACY_MIN_SECRET_LENGTH } from '../core/config.ts';
import { PrivacyError } from './errors.ts';

/** Key ids: lower-case letters, digits, `_` and `-`, 1–32 characters. */
export const KEY_ID_PATTERN = PRIVACY_KEY_ID_PATTERN;

/** Shortest secret accepted, characters (e.g. 128 bits as hex; generated keys are 256 bits as hex). */
export const MIN_SECRET_LENGTH = PRIVACY_MIN_SECRET_LENGTH;

/** Key id -> secret. Secrets never leave it except into an HMAC. */
export interface Keyring {
  /**
   * The secret of key `id`; undefined when it has none.
   * @throws PrivacyError `PRIVACY_ERR_KEY` when the id is malformed or the secret cannot be had
   */
  get(id: string): Buffer | undefined;
}

/**
 * Checks a key id and its secret and returns the secret's bytes. `source` names where it came from
 * in the error (a config key, an environment variable, a file), never the secret.
 *
 * @throws PrivacyError `PRIVACY_ERR_KEY` when the id is malformed or the secret too short
 */
export function checkKey(id: string, secret: string, source: string): Buffer {
  if (!KEY_ID_PATTERN.test(id)) throw new PrivacyError('PRIVACY_ERR_KEY', `${source}: key id ${JSON.stringify(id.slice(0, 40))} must match ${KEY_ID_PATTERN.source}`);
  if (secret.length < MIN_SECRET_LENGTH) throw new PrivacyError('PRIVACY_ERR_KEY', `${source}: the secret of key "${id}" is shorter than ${MIN_SECRET_LENGTH} characters`);
  return Buffer.from(secret, 'utf8');
}

/**
 * Checks a key id asked for.
 * @throws PrivacyError `PRIVACY_ERR_KEY` when it is malformed
 */
export function checkKeyId(id: string): void {
  if (!KEY_ID_PATTERN.test(id)) throw new PrivacyError('PRIVACY_ERR_KEY', `key id ${JSON.stringify(id.slice(0, 40))} must match ${KEY_ID_PATTERN.source}`);
}

/**
 * A keyring of the secrets given (key id -> secret), nothing else.
 *
 * @throws PrivacyError `PRIVACY_ERR_KEY` naming the key id (never the secret) when an id is malformed or a secret too short
 */
export function memoryKeyring(keys: Record<string, string>, source = 'privacy.keys'): Keyring {
  const ring = new Map<string, Buffer>();
  for (const id of Object.keys(keys)) {
    const secret = Object.prototype.hasOwnProperty.call(keys, id) ? keys[id] : undefined;
    if (typeof secret === 'string') ring.set(id, checkKey(id, secret, `${source}.${id}`));
  }
  return {
    get(id) {
      checkKeyId(id);
      return ring.get(id);
    },
  };
}

/**
 * The keyed pseudonym of `value` in `field`: `<keyId>:<22 base64url characters>` (128 bits of
 * HMAC-SHA256 over the field name and the value). Stable under one key; unrelated under another;
 * the same value in two fields gives two pseudonyms.
 */
export function pseudonymOf(secret: Buffer, keyId: string, field: string, value: string): string {
  const mac = createHmac('sha256', secret).update(field, 'utf8').update('\u0000').update(value, 'utf8').digest();
  return `${keyId}:${mac.subarray(0, 16).toString('base64url')}`;
}

/** Matches a pseudonym made by {@link pseudonymOf}. */
export const PSEUDONYM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}:[A-Za-z0-9_-]{22}$/;
