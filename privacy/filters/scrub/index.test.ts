import { expect, it } from 'vitest';
import { compileNames } from '../../scrub.ts';
import { scrubFilter } from './index.ts';

const note = { target: 'attribute' as const, name: 'note', description: 'Free-text note', personal: true, type: 'string' as const, freeText: true };
const name = { target: 'attribute' as const, name: 'observer_name', description: "Citizen observer's name", personal: true, type: 'string' as const, freeText: false };

it('scrub removes contact details, known names and name-like words from free text, and says what it removed', () => {
  const f = scrubFilter.compile(note, { key: undefined });
  expect(f({ value: 'Nest here, ask Bob: bob@example.org', personalValues: ['Bob Jones'] })).toEqual({
    keep: true,
    value: 'Nest here, ask [name removed]: [email removed]',
    action: 'scrubbed',
    scrubbed: { name: 1, email: 1 },
  });
  // A name the hub knows (another observer), in lower case and another Unicode form.
  const names = compileNames(['Zoë Ångström']);
  expect(f({ value: 'nest found by zoe\u0308 today', personalValues: [], names })).toMatchObject({ keep: true, value: 'nest found by [name removed] today' });
  expect(f({ value: 'nothing personal', personalValues: [] })).toEqual({ keep: true, value: 'nothing personal' });
  expect(f({ value: '  ', personalValues: [] })).toEqual({ keep: false, action: 'dropped' });
  // Nothing left but markers: not published.
  expect(f({ value: 'Jane Smith, 12 High Street', personalValues: [] })).toMatchObject({ keep: false, action: 'dropped' });
});

it('scrub may not be used on a personal field that is not free text', () => {
  expect(scrubFilter.check?.(name, { key: undefined })).toMatchObject({ code: 'PRIVACY_ERR_POLICY_PERSONAL', message: expect.stringContaining('observer_name') });
  expect(scrubFilter.check?.(note, { key: undefined })).toBeUndefined();
});
