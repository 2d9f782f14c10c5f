/**
 * `keep`: the value is published as it is. Refused on a field the catalogue marks personal. A
 * string a device sends (an area, a method, a firmware version) is published only if it is a
 * short token in which the scrubber finds nothing (no address, postcode, coordinates, contact
 * detail or known name): otherwise it is dropped, since it is free text nobody opted in.
 */
import { scrubText } from '../../scrub.ts';
import type { ValueFilter } from '../types.ts';

/** Longest string `keep` publishes. */
export const MAX_KEPT_STRING = 64;

export const keepFilter: ValueFilter = {
  name: 'keep',
  summary: 'publishes the value as it is (never allowed on a personal field; strings only as short tokens without personal details)',
  targets: ['attribute', 'metric'],
  types: ['string', 'number', 'boolean'],
  publishesRaw: true,
  explain: (f) => (f.type === 'string' ? `${f.description}: published as sent when it is a short word or code with no personal detail in it, else not published.` : `${f.description}: published as measured.`),
  compile: () => (input) => {
    if (typeof input.value !== 'string') return { keep: true, value: input.value };
    const v = input.value;
    // eslint-disable-next-line no-control-regex
    if (v.length > MAX_KEPT_STRING || /[\u0000-\u001f\u007f]/.test(v)) return { keep: false, action: 'dropped' };
    const s = scrubText(v, input.personalValues, input.names ? { names: input.names } : {});
    if (s.removed > 0) return { keep: false, action: 'dropped', scrubbed: s.byKind };
    return { keep: true, value: v };
  },
};
