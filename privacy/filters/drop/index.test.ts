import { expect, it } from 'vitest';
import { dropFilter } from './index.ts';

const field = { target: 'attribute' as const, name: 'observer_email', description: "Citizen observer's email", personal: true, type: 'string' as const, freeText: false };

it('drop removes the value and counts it', () => {
  const f = dropFilter.compile(field, { key: undefined });
  expect(f({ value: 'alice@example.org', personalValues: [] })).toEqual({ keep: false, action: 'dropped' });
  expect(dropFilter.publishesRaw).toBe(false);
  expect(dropFilter.explain(field)).toMatch(/removed/);
});
