import { expect, it } from 'vitest';
import { keepFilter } from './index.ts';

const field = { target: 'attribute' as const, name: 'firmware', description: 'Device firmware version', personal: false, type: 'string' as const, freeText: false };

it('keep passes the value unchanged and declares it, so policies cannot keep personal fields', () => {
  const f = keepFilter.compile(field, { key: undefined });
  expect(f({ value: '1.2.3', personalValues: [] })).toEqual({ keep: true, value: '1.2.3' });
  expect(keepFilter.publishesRaw).toBe(true);
});
