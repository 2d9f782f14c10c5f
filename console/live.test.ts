import { describe, expect, it } from 'vitest';
import { createLiveFeed } from './live.ts';

describe('the live feed: what its readings listeners want from the pipeline', () => {
  it('wants every record while a stream listens, species detections while only the tally does, else none', () => {
    const live = createLiveFeed();
    expect(live.wants()).toBe('none');
    const got: number[] = [];
    const offTally = live.subscribeReadings((rs) => got.push(rs.length), { only: 'detections' });
    expect(live.wants()).toBe('detections');
    const offStream = live.subscribeReadings(() => undefined);
    expect(live.wants()).toBe('all');
    expect(live.listenerCount().readings).toBe(2);
    offStream();
    expect(live.wants()).toBe('detections');
    // A detections listener is still handed what is published (it skips what it does not count).
    live.publishReadings([{ hub: 'demo', domain: 'water', sensor: 'w', site: 's', kind: 'level', ts: 1, metrics: { groundwater_level: 1 } }]);
    expect(got).toEqual([1]);
    offTally();
    offTally(); // twice is harmless
    expect(live.wants()).toBe('none');
    expect(live.listenerCount()).toEqual({ readings: 0, alerts: 0 });
  });

  it('counts the same function subscribed twice as two subscriptions', () => {
    const live = createLiveFeed();
    const l = (): void => undefined;
    const a = live.subscribeReadings(l, { only: 'detections' });
    const b = live.subscribeReadings(l);
    expect(live.wants()).toBe('all');
    b();
    expect(live.wants()).toBe('detections');
    a();
    expect(live.wants()).toBe('none');
  });
});
