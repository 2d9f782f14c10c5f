/**
 * Every value filter a policy may name, by name. Adding a filter: a folder
 * `privacy/filters/<name>/` with `index.ts` (a {@link ValueFilter}) and `index.test.ts`, and one
 * line here (privacy/README.md "Adding a filter").
 */
import { dropFilter } from './drop/index.ts';
import { keepFilter } from './keep/index.ts';
import { pseudonymiseFilter } from './pseudonymise/index.ts';
import { scrubFilter } from './scrub/index.ts';
import type { ValueFilter } from './types.ts';

export const VALUE_FILTERS: ReadonlyMap<string, ValueFilter> = new Map(
  [dropFilter, keepFilter, pseudonymiseFilter, scrubFilter].map((f) => [f.name, f]),
);

export type { ValueFilter } from './types.ts';
