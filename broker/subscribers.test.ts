import { describe, expect, it } from 'vitest';
import { filterReachesUnder } from './broker.ts';

describe('filterReachesUnder (is anyone subscribed under public/v1?)', () => {
  it.each([
    ['public/v1/demo/water/well-1', true],
    ['public/v1/#', true],
    ['public/#', true],
    ['#', true],
    ['+/v1/+/+/+', true],
    ['$share/dash/public/v1/#', true],
    ['public/v1', false],
    ['public/v2/#', false],
    ['csm/v1/+/+/+/data', false],
    ['+/v2/#', false],
  ])('%s → %s', (filter, expected) => {
    expect(filterReachesUnder(filter, 'public/v1')).toBe(expected);
  });
});
