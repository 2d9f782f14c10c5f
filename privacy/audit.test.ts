// Tests of the audit helper in tests/harness/privacy.ts (kept here to run with the unit tests).
import { describe, expect, it } from 'vitest';
import { exactCoordinate, expectNoPersonalData, findPersonalData } from '../tests/harness/privacy.ts';

describe('expectNoPersonalData', () => {
  const known = ['alice@example.org', 'Alice Smith', 'H-0042', exactCoordinate(51.50735, 4)];

  it('passes clean output of any shape', () => {
    expect(() => expectNoPersonalData({ ok: true, loc: { lat: 51.505, lon: -0.125 }, note: '[email removed]' }, known)).not.toThrow();
    expect(() => expectNoPersonalData('nothing here', known)).not.toThrow();
    expect(() => expectNoPersonalData(Buffer.from('{"a":1}'), known)).not.toThrow();
  });

  it('does not take the seconds of a timestamp for a coordinate, but finds the coordinate beside it', () => {
    expect(findPersonalData({ time: '2026-12-04T08:36:51.5073Z' }, known)).toEqual([]);
    expect(findPersonalData({ time: '2026-12-04T08:36:51.5073Z', lat: 51.5073 }, known)).toHaveLength(1);
  });

  it.each([
    ['a string, in any case', 'mail ALICE@example.org'],
    ['a Buffer', Buffer.from('{"who":"Alice Smith"}')],
    ['a nested object value', { a: [{ b: new Map([['k', 'H-0042']]) }] }],
    ['an object key', { 'H-0042': 1 }],
    ['an exact coordinate inside a longer number', { lat: 51.50735 }],
    ['a JSON-escaped string', JSON.stringify({ s: JSON.stringify({ who: 'Alice Smith' }) })],
    ['a URL-encoded query', '/api?email=alice%40example.org'],
    ['an error message', new Error('device alice@example.org refused')],
    ['an error cause', new Error('wrapped', { cause: new Error('H-0042') })],
    ['a log line', '{"level":30,"msg":"reading","household":"H-0042"}\n'],
  ])('finds a personal value in %s', (_what, output) => {
    expect(() => expectNoPersonalData(output, known, 'the output')).toThrow(/personal data in the output/);
  });

  it('reports the value, where it was and what surrounds it', () => {
    const f = findPersonalData({ msg: 'hello Alice Smith!' }, known);
    expect(f).toEqual([expect.objectContaining({ value: 'Alice Smith', context: expect.stringContaining('hello Alice Smith!') })]);
  });

  it('handles cycles', () => {
    const o: Record<string, unknown> = { v: 'H-0042' };
    o.self = o;
    expect(findPersonalData(o, known).map((x) => x.value)).toEqual(['H-0042']);
  });

  it('refuses needles too short to be meaningful', () => {
    expect(() => expectNoPersonalData('x', ['ab'])).toThrow(/shorter than/);
  });

  it('exact coordinates are truncated, not rounded, to the precision given', () => {
    expect(exactCoordinate(51.50735, 4)).toBe('51.5073');
    expect(exactCoordinate(-0.12776, 3)).toBe('-0.127');
    expect(exactCoordinate(2.999999, 2)).toBe('2.99');
  });
});
