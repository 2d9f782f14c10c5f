/**
 * `scrub`: free text is published only after the scrubber (../../scrub.ts) removed addresses,
 * postcodes, coordinates in any notation, links, emails, phone numbers, every name the hub knows
 * and anything that looks like a name. Free text is never published unless the policy names this
 * filter for it (the default for free text is `drop`). Allowed on a personal field only if it is
 * free text: scrubbing a name would leave the name.
 */
import { scrubText } from '../../scrub.ts';
import { FREE_TEXT_ATTRIBUTES, type ValueFilter } from '../types.ts';

export const scrubFilter: ValueFilter = {
  name: 'scrub',
  summary: 'publishes free text only after removing addresses, postcodes, coordinates, links, emails, phone numbers and names',
  targets: ['attribute'],
  types: ['string'],
  publishesRaw: false,
  check: (f) =>
    f.personal && !f.freeText
      ? {
          code: 'PRIVACY_ERR_POLICY_PERSONAL',
          message: `scrub would publish the personal attribute ${f.name}: it removes personal details from free text (${[...FREE_TEXT_ATTRIBUTES].join(', ')}), not the value itself; use drop or pseudonymise`,
        }
      : undefined,
  explain: (f) =>
    `${f.description}: published only after street addresses, postcodes, coordinates in any notation, web links, email addresses, phone numbers, the names of everyone the hub knows and every word that looks like a name are removed from it.`,
  compile: () => (input) => {
    const { text, removed, byKind } = scrubText(String(input.value), input.personalValues, { ...(input.names ? { names: input.names } : {}), namePatterns: true });
    if (text.replace(/\[[a-z]+ removed\]/g, '').replace(/[\s\p{P}\p{S}]/gu, '') === '') return removed > 0 ? { keep: false, action: 'dropped', scrubbed: byKind } : { keep: false, action: 'dropped' };
    return removed > 0 ? { keep: true, value: text, action: 'scrubbed', scrubbed: byKind } : { keep: true, value: text };
  },
};
