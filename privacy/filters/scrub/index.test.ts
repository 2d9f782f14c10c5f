import { expect, it } from 'vitest';
import { scrubFilter } from './index.ts';

const note = { target: 'attribute' as const, name: 'note', description: 'Free-text note', personal: true, type: 'string' as const, freeText: true };
const name = { target: 'attribute' as const, name: 'observer_name', description: "Citizen observer's name", personal: true, type: 'string' as const, freeText: false };

it('scrub removes contact details and the sender’s name from free text', () => {
  const f = scrubFilter.compile(note, { key: undefined });
  expect(f({ value: 'Nest here, ask Bob: bob@example.org', personalValues: ['Bob Jones'] })).toEqual({ keep: true, value: 'Nest here, ask [name removed]: [email removed]', action: 'scrubbed' });
  expect(f({ value: 'Nothing personal', personalValues: [] })).toEqual({ keep: true, value: 'Nothing personal' });
  expect(f({ value: '  ', personalValues: [] })).toEqual({ keep: false, action: 'dropped' });
});

it('scrub may not be used on a personal field that is not free text', () => {
  expect(scrubFilter.check?.(name, { key: undefined })).toMatchObject({ code: 'PRIVACY_ERR_POLICY_PERSONAL', message: expect.stringContaining('observer_name') });
  expect(scrubFilter.check?.(note, { key: undefined })).toBeUndefined();
});
