/** `keep`: the value is published as it is. Refused on a field the catalogue marks personal. */
import type { ValueFilter } from '../types.ts';

export const keepFilter: ValueFilter = {
  name: 'keep',
  summary: 'publishes the value as it is (never allowed on a personal field)',
  targets: ['attribute', 'metric'],
  types: ['string', 'number', 'boolean'],
  publishesRaw: true,
  explain: (f) => `${f.description}: published as measured.`,
  compile: () => (input) => ({ keep: true, value: input.value }),
};
