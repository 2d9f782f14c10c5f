import { describe, expect, it } from 'vitest';
import { hubTime, isReplay } from './src/clock.ts';

const DAY = 86_400_000;

describe("the page's hub clock", () => {
  const wall = Date.UTC(2026, 11, 4, 12);
  const replay = { now: wall - 24 * DAY, wall, rate: 3600, scenario: 'drought' };

  it('is the wall clock without a simulated one', () => {
    expect(hubTime(null, wall, wall + 5000)).toBe(wall + 5000);
    expect(isReplay(null, wall, wall + 5000)).toBe(false);
  });

  it("runs a replaying scenario's clock at its rate: ten real seconds are ten simulated hours", () => {
    expect(hubTime(replay, wall, wall + 10_000)).toBe(wall - 24 * DAY + 10 * 3_600_000);
    expect(isReplay(replay, wall, wall + 10_000)).toBe(true);
  });

  it('never runs ahead of the wall clock: once the replay has caught up it is live', () => {
    const later = wall + 25 * DAY / 3600;
    expect(hubTime(replay, wall, later)).toBe(later);
    expect(isReplay(replay, wall, later)).toBe(false);
  });
});
