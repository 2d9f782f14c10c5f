import { afterEach, describe, expect, it } from 'vitest';
import { DAY, harness, type Harness, HOUR, reading, T0 } from '../testing.ts';

const RULE = `
rules:
  - id: aquifer-depletion
    kind: depletion
    title: Aquifer
    severity: critical
    select: { metric: groundwater_level }
    window: 3d
    floor: 40
    horizon: 10d
`;

describe('depletion', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('a stock falling 0.5 m/day from 50 m is projected to reach 40 m within 10 days from day 10 on', async () => {
    // Scenario: hourly levels 50 − 0.5·t (t in days); evaluate after each day; known answer: fires once
    // the level is ≤ 45 m (10 days to the floor), i.e. at day 10, with the date and the rate.
    h = await harness(RULE);
    let firedAt: number | undefined;
    for (let hour = 0; hour <= 12 * 24; hour++) {
      const ts = T0 + hour * HOUR;
      h.engine.onReadings([reading('well-1', ts, { groundwater_level: 50 - 0.5 * (hour / 24) })]);
      if (hour % 6 === 0) {
        await h.tick();
        if (firedAt === undefined && h.messages('aquifer-depletion').length) firedAt = ts;
      }
    }
    expect(firedAt).toBeGreaterThanOrEqual(T0 + 10 * DAY);
    expect(firedAt).toBeLessThanOrEqual(T0 + 10 * DAY + 6 * HOUR);
    const [a] = h.messages('aquifer-depletion');
    expect(Number(a?.facts.ratePerDay)).toBeCloseTo(-0.5, 6);
    expect(Number(a?.facts.daysToFloor)).toBeCloseTo(10, 6);
    expect(a?.facts.projectedDate).toBe('2026-12-15');
    expect(a?.message).toBe(
      'Aquifer at well-1 (demo) is projected to reach its safe minimum of 40 m in 10 days (on 2026-12-15) at the current rate of -0.5 m/day (level now 45 m; trend of the last 3 days, 73 readings); observed since 2026-12-05 00:00 UTC',
    );
    // Critical depletion alerts are escalated to the regional topic too.
    expect(h.published.filter((p) => p.alert?.event === 'firing').map((p) => p.topic)).toEqual([
      'csm/v1/demo/alerts/aquifer-depletion/well-1',
      'regional/v1/demo/alerts/aquifer-depletion/well-1',
    ]);
  });

  it('a stock already under its floor fires; a rising stock resolves it', async () => {
    // Scenario: 39 m and falling for a day, then recovering to 46 m over three days.
    h = await harness(RULE);
    for (let hour = 0; hour <= 24; hour++) h.engine.onReadings([reading('well-1', T0 + hour * HOUR, { groundwater_level: 39.5 - hour / 48 })]);
    await h.tick();
    expect(h.messages('aquifer-depletion')[0]?.message).toMatch(/^Aquifer at well-1 \(demo\) is at 39 m, already below its safe minimum of 40 m/);
    for (let hour = 25; hour <= 96; hour++) h.engine.onReadings([reading('well-1', T0 + hour * HOUR, { groundwater_level: 39 + (hour - 24) / 10 })]);
    await h.tick();
    expect(h.messages('aquifer-depletion').map((m) => m.event)).toEqual(['firing', 'resolved']);
    expect(h.published.filter((p) => p.alert === null).map((p) => p.topic)).toEqual([
      'csm/v1/demo/alerts/aquifer-depletion/well-1',
      'regional/v1/demo/alerts/aquifer-depletion/well-1',
    ]);
  });

  it('smooth: a daily pumping cycle of ±2 m does not hide a fall of 3 cm a day', async () => {
    // Scenario: level = 41 − 0.03·t + 2·sin(2πt) every 30 min for 3 days; 24-hour moving average first.
    h = await harness(`
rules:
  - id: aquifer
    kind: depletion
    select: { metric: groundwater_level }
    window: 3d
    smooth: 1d
    floor: 39
    horizon: 90d
`);
    for (let k = 0; k <= 3 * 48; k++) {
      const t = k / 48;
      h.engine.onReadings([reading('well-1', T0 + k * 30 * 60_000, { groundwater_level: 41 - 0.03 * t + 2 * Math.sin(2 * Math.PI * t) })]);
    }
    await h.tick();
    const [a] = h.messages('aquifer');
    expect(Number(a?.facts.ratePerDay)).toBeCloseTo(-0.03, 3);
    expect(Number(a?.facts.daysToFloor)).toBeGreaterThan(60);
    expect(Number(a?.facts.daysToFloor)).toBeLessThan(65);
  });

  it('not enough history yet: no verdict, nothing published', async () => {
    // Scenario: three readings over two hours (the rule needs 5 readings over 18 hours).
    h = await harness(RULE);
    await h.feed(...[0, 1, 2].map((k) => reading('well-1', T0 + k * HOUR, { groundwater_level: 41 - k })));
    await h.tick();
    expect(h.engine.alerts()).toHaveLength(0);
  });

  it('minimum evidence (minR2): a wobble after a storm does not forecast depletion; a steady fall does', async () => {
    // Scenario: 41 m with a ±0.6 m swing every 12 hours and a slight downward drift of 5 cm/day: a
    // line through 3 days projects the 40 m floor within the horizon, but explains little of the
    // variance (R² ≈ 0.1), so the rule with minR2 0.8 stays quiet. Then a steady fall of 0.2 m/day
    // (R² ≈ 1) fires.
    h = await harness(RULE.replace('horizon: 10d', 'horizon: 30d\n    minR2: 0.8'));
    for (let hour = 0; hour <= 3 * 24; hour++) {
      const ts = T0 + hour * HOUR;
      h.engine.onReadings([reading('well-1', ts, { groundwater_level: 41 - 0.05 * (hour / 24) + 0.6 * Math.sin((2 * Math.PI * hour) / 12) })]);
    }
    await h.tick();
    expect(h.engine.alerts()).toEqual([]);
    expect(h.messages('aquifer-depletion')).toEqual([]);
    for (let hour = 3 * 24 + 1; hour <= 7 * 24; hour++) {
      h.engine.onReadings([reading('well-1', T0 + hour * HOUR, { groundwater_level: 41 - 0.2 * ((hour - 72) / 24) })]);
    }
    await h.tick();
    const [a] = h.messages('aquifer-depletion');
    expect(a?.event).toBe('firing');
    expect(Number(a?.facts.r2)).toBeGreaterThan(0.99);
  });
});
