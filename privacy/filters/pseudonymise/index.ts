/**
 * `pseudonymise`: the value is replaced by its keyed pseudonym (HMAC-SHA256 with the hub key the
 * policy names; see ../../keys.ts). Records of one household or observer stay linkable to each
 * other, not to the person; the pseudonyms change when the key is rotated.
 */
import { pseudonymOf } from '../../keys.ts';
import type { ValueFilter } from '../types.ts';

export const pseudonymiseFilter: ValueFilter = {
  name: 'pseudonymise',
  summary: 'replaces the value by a keyed pseudonym (HMAC-SHA256 with the hub key named by `pseudonymKey`)',
  targets: ['attribute'],
  types: ['string'],
  publishesRaw: false,
  check: (f, ctx) =>
    ctx.key ? undefined : { code: 'PRIVACY_ERR_KEY', message: `pseudonymising ${f.name} needs a key: set pseudonymKey to a key id from privacy.keys (or STEWARD_PRIVACY_KEY_<ID>)` },
  explain: (f) =>
    `${f.description}: replaced by a code computed with a secret key of the hub, so records of the same ${f.name.replace(/_id$/, '')} can be grouped but not traced back; the codes change whenever the hub rotates its key.`,
  compile: (f, ctx) => {
    const key = ctx.key;
    if (!key) throw new TypeError('pseudonymise compiled without a key');
    return (input) => ({ keep: true, value: pseudonymOf(key.secret, key.id, f.name, String(input.value)), action: 'pseudonymised' });
  },
};
