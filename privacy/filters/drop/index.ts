/** `drop`: the value is removed before anything is stored or published. */
import type { ValueFilter } from '../types.ts';

export const dropFilter: ValueFilter = {
  name: 'drop',
  summary: 'removes the value before anything is stored or published',
  targets: ['attribute', 'metric'],
  types: ['string', 'number', 'boolean'],
  publishesRaw: false,
  explain: (f) => `${f.description}: removed; never stored for dashboards or published.`,
  compile: () => () => ({ keep: false, action: 'dropped' }),
};
