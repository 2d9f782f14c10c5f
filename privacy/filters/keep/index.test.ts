import { expect, it } from 'vitest';
import { keepFilter } from './index.ts';

const field = { target: 'attribute' as const, name: 'firmware', description: 'Device firmware version', personal: false, type: 'string' as const, freeText: false };

it('keep passes the value unchanged and declares it, so policies cannot keep personal fields', () => {
  const f = keepFilter.compile(field, { key: undefined });
  expect(f({ value: '1.2.3', personalValues: [] })).toEqual({ keep: true, value: '1.2.3' });
  expect(keepFilter.publishesRaw).toBe(true);
});

it('keep publishes a string only as a short token with nothing personal in it', () => {
  const f = keepFilter.compile({ ...field, name: 'area', description: 'Area' }, { key: undefined });
  expect(f({ value: 'north', personalValues: [] })).toEqual({ keep: true, value: 'north' });
  expect(f({ value: '12 High Street', personalValues: [] })).toMatchObject({ keep: false, action: 'dropped', scrubbed: { address: 1 } });
  expect(f({ value: 'SW1A 1AA', personalValues: [] })).toMatchObject({ keep: false, action: 'dropped' });
  expect(f({ value: 'x'.repeat(65), personalValues: [] })).toEqual({ keep: false, action: 'dropped' });
  expect(f({ value: 3.7, personalValues: [] })).toEqual({ keep: true, value: 3.7 });
});
