/**
 * `scrub`: free text is published without links, email addresses, phone numbers, precise
 * coordinates and the personal values of the same reading (../../scrub.ts). Allowed on a personal
 * field only if it is free text: scrubbing a name would leave the name.
 */
import { scrubText } from '../../scrub.ts';
import { FREE_TEXT_ATTRIBUTES, type ValueFilter } from '../types.ts';

export const scrubFilter: ValueFilter = {
  name: 'scrub',
  summary: 'removes links, emails, phone numbers, precise coordinates and the reading’s own personal values from free text',
  targets: ['attribute'],
  types: ['string'],
  publishesRaw: false,
  check: (f) =>
    f.personal && !f.freeText
      ? {
          code: 'PRIVACY_ERR_POLICY_PERSONAL',
          message: `scrub would publish the personal attribute ${f.name}: it removes contact details from free text (${[...FREE_TEXT_ATTRIBUTES].join(', ')}), not the value itself; use drop or pseudonymise`,
        }
      : undefined,
  explain: (f) => `${f.description}: published only after web links, email addresses, phone numbers, precise coordinates and the sender's own name and contact details are removed from it.`,
  compile: () => (input) => {
    const { text, removed } = scrubText(String(input.value), input.personalValues);
    if (text.trim() === '') return { keep: false, action: 'dropped' };
    return removed > 0 ? { keep: true, value: text, action: 'scrubbed' } : { keep: true, value: text };
  },
};
