import { expect, it } from 'vitest';
import { PSEUDONYM_PATTERN } from '../../keys.ts';
import { pseudonymiseFilter } from './index.ts';

const field = { target: 'attribute' as const, name: 'household_id', description: 'Household meter id', personal: true, type: 'string' as const, freeText: false };
const k1 = { id: 'k1', secret: Buffer.from('1'.repeat(40)) };
const k2 = { id: 'k2', secret: Buffer.from('2'.repeat(40)) };

it('pseudonymise replaces the value by a keyed pseudonym that changes with the key', () => {
  const a = pseudonymiseFilter.compile(field, { key: k1 });
  const b = pseudonymiseFilter.compile(field, { key: k2 });
  const one = a({ value: 'H-042', personalValues: [] });
  expect(one).toEqual({ keep: true, value: expect.stringMatching(PSEUDONYM_PATTERN), action: 'pseudonymised' });
  expect(a({ value: 'H-042', personalValues: [] })).toEqual(one);
  expect(b({ value: 'H-042', personalValues: [] })).not.toEqual(one);
  expect(JSON.stringify(one)).not.toContain('H-042');
});

it('pseudonymise without a key is refused when the policy is compiled', () => {
  expect(pseudonymiseFilter.check?.(field, { key: undefined })).toMatchObject({ code: 'PRIVACY_ERR_KEY' });
  expect(() => pseudonymiseFilter.compile(field, { key: undefined })).toThrow();
});
