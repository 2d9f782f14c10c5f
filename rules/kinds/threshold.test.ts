import { afterEach, describe, expect, it } from 'vitest';
import { batteryRule, harness, type Harness, MIN, reading, T0 } from '../testing.ts';

const BATTERY = batteryRule();

describe('threshold', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('flapping around the limit: one alert while the battery hovers under 25 %, resolved only above it', async () => {
    // Scenario: battery SoC 30, 19, 21, 19, 24, 26, 21, 19 one minute apart; limit 20 with a band of 5.
    h = await harness(BATTERY);
    const values = [30, 19, 21, 19, 24, 26, 21, 19];
    const events: string[] = [];
    for (const [i, v] of values.entries()) {
      const before = h.published.length;
      await h.feed(reading('battery-1', T0 + i * MIN, { battery_soc: v }));
      events.push(h.published.slice(before).map((p) => (p.alert ? p.alert.event : 'clear')).join('+') || '-');
    }
    // at 19 fire; 21, 19, 24 stay firing (no re-publish); 26 resolves and clears; 21 nothing; 19 fires
    // again, minutes after it resolved: the same episode reopens (an acknowledgement would be kept).
    expect(events).toEqual(['-', 'firing', '-', '-', '-', 'resolved+clear', '-', 'firing']);
    const fired = h.messages('battery-low').filter((m) => m.event === 'firing');
    expect(fired.map((m) => m.episode)).toEqual([1, 1]);
    expect(fired[0]?.message).toBe(
      'Battery charge at battery-1 (demo) is 19%, below the limit of 20%; observed since 2026-11-25 00:01 UTC',
    );
    const resolved = h.published.find((p) => p.alert?.event === 'resolved');
    expect(resolved?.retain).toBe(false);
    expect(resolved?.alert?.message).toMatch(/^Resolved: Battery charge at battery-1 \(demo\) is 26%, back above 25%; the alert had been active since 2026-11-25 00:01 UTC, until 2026-11-25 00:05 UTC$/);
    const clear = h.published.find((p) => p.alert === null);
    expect(clear).toMatchObject({ topic: 'csm/v1/demo/alerts/battery-low/battery-1', retain: true });
  });

  it('for-duration: pending while under the limit for less than 30 minutes (sensor time), firing after', async () => {
    // Scenario: soil moisture every 10 min: 0.19, 0.18, 0.21 (recovers), 0.19, 0.19, 0.19, 0.19.
    h = await harness(`
rules:
  - id: dry
    kind: threshold
    select: { metric: soil_moisture }
    below: 0.2
    for: 30m
`);
    const id = 'demo.dry.soil-1';
    const at = (k: number): number => T0 + k * 10 * MIN;
    await h.feed(reading('soil-1', at(0), { soil_moisture: 0.19 }));
    expect(h.engine.get(id)?.state).toBe('pending');
    await h.feed(reading('soil-1', at(1), { soil_moisture: 0.18 }));
    expect(h.engine.get(id)?.state).toBe('pending');
    await h.feed(reading('soil-1', at(2), { soil_moisture: 0.21 }));
    expect(h.engine.get(id)?.state).toBe('inactive'); // broke the streak: the clock starts again
    for (const k of [3, 4, 5]) await h.feed(reading('soil-1', at(k), { soil_moisture: 0.19 }));
    expect(h.engine.get(id)?.state).toBe('pending'); // 20 minutes under since at(3)
    expect(h.published).toHaveLength(0);
    await h.feed(reading('soil-1', at(6), { soil_moisture: 0.19 }));
    const a = h.engine.get(id);
    expect(a?.state).toBe('firing');
    expect(a?.activeAt).toBe(new Date(at(3)).toISOString());
    expect(a?.firedAt).toBe(new Date(at(6)).toISOString());
    expect(h.messages('dry')).toHaveLength(1);
    expect(h.messages('dry')[0]?.message).toContain('for 30 minutes or more; observed since 2026-11-25 00:30 UTC');
    expect(a?.history.map((e) => `${e.from}->${e.to}`).reverse()).toEqual(['inactive->pending', 'pending->inactive', 'inactive->pending', 'pending->firing']);
  });

  it('uses sensor time: 30 minutes of readings an accelerated simulation sends in 1 real second fire at once', async () => {
    // Scenario: readings 5 simulated minutes apart arrive while the wall clock stands still.
    h = await harness(`
rules:
  - id: dry
    kind: threshold
    select: { metric: soil_moisture }
    below: 0.2
    for: 30m
`);
    for (let k = 0; k <= 6; k++) h.engine.onReadings([reading('soil-1', T0 + 10 * MIN + k * 5 * MIN, { soil_moisture: 0.1 })]);
    await h.engine.idle();
    expect(h.messages('dry').map((m) => m.event)).toEqual(['firing']);
  });

  it('a late reading does not move the alert back in time', async () => {
    // Scenario: 19 % at 00:10 fires; a delayed 40 % stamped 00:05 arrives afterwards; the alert keeps firing.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0 + 10 * MIN, { battery_soc: 19 }));
    await h.feed(reading('battery-1', T0 + 5 * MIN, { battery_soc: 40 }));
    expect(h.engine.get('demo.battery-low.battery-1')?.state).toBe('firing');
    expect(h.published).toHaveLength(1);
  });

  it('aggregate: the mean of the site’s sensors crosses the limit, one alert for the site', async () => {
    // Scenario: three probes in field-a at 0.25, 0.22, 0.10 (mean 0.19) and one in field-b at 0.10 alone.
    h = await harness(`
rules:
  - id: field-dry
    kind: threshold
    select: { metric: soil_moisture }
    aggregate: { fn: mean, by: site }
    below: 0.2
`);
    await h.feed(
      reading('p1', T0, { soil_moisture: 0.25 }, { site: 'field-a' }),
      reading('p2', T0 + 1000, { soil_moisture: 0.22 }, { site: 'field-a' }),
    );
    expect(h.published).toHaveLength(0);
    await h.feed(reading('p3', T0 + 2000, { soil_moisture: 0.1 }, { site: 'field-a' }), reading('p9', T0 + 3000, { soil_moisture: 0.1 }, { site: 'field-b' }));
    const [a, b] = h.messages('field-dry');
    expect(a?.subject).toBe('field-a');
    expect(a?.message).toContain('Mean soil moisture across 3 sensors at site field-a (demo) is 0.19 m³/m³, below the limit of 0.2 m³/m³');
    expect(b?.subject).toBe('field-b');
    expect(h.published[0]?.topic).toBe('csm/v1/demo/alerts/field-dry/field-a');
  });
});
