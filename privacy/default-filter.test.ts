import { expect, it } from 'vitest';
import { createDefaultFilter } from './default-filter.ts';
import { reading } from './testing.ts';

it("the foundation's default filter keeps working", () => {
  const f = createDefaultFilter();
  expect(f.apply(reading({ attributes: { observer_name: 'Alice Smith' } }))).not.toHaveProperty('attributes');
});
