import { afterEach, describe, expect, it } from 'vitest';
import { DAY, harness, type Harness, HOUR, reading, T0 } from '../testing.ts';

const RULE = `
rules:
  - id: carbon-decline
    kind: rate
    select: { metric: soil_organic_carbon }
    window: 30d
    per: 1y
    below: -0.5
`;

/** Soil carbon starting at 4 % and changing by `perYear` %-points a year, every 6 h for `days`, with ±0.01 noise. */
function series(perYear: number, days: number, from = T0): Array<{ ts: number; v: number }> {
  const out = [];
  for (let t = 0; t <= days * DAY; t += 6 * HOUR) out.push({ ts: from + t, v: 4 + (perYear * t) / (365 * DAY) + (t % (18 * HOUR) === 0 ? 0.01 : -0.005) });
  return out;
}

describe('rate', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('carbon falling 1 %-point a year fires with the fitted rate; falling 0.2 a year does not', async () => {
    // Scenario: two soil stations for 30 days; one loses 1 %/yr, the other 0.2 %/yr; limit a fall of 0.5 %/yr.
    h = await harness(RULE);
    for (const p of series(-1, 30)) h.engine.onReadings([reading('soil-a', p.ts, { soil_organic_carbon: p.v })]);
    for (const p of series(-0.2, 30)) h.engine.onReadings([reading('soil-b', p.ts, { soil_organic_carbon: p.v })]);
    await h.tick();
    const [a, ...rest] = h.messages('carbon-decline');
    expect(rest).toHaveLength(0);
    expect(a?.subject).toBe('soil-a');
    expect(Number(a?.facts.rate)).toBeCloseTo(-1, 1);
    expect(a?.message).toMatch(/^Soil organic carbon at soil-a \(demo\) is falling by 1 %\/year over the last 30 days, beyond the allowed fall of 0\.5 %\/year; observed since /);
  });

  it('waits for a quarter of the window before judging a trend (no verdict on two noisy points)', async () => {
    // Scenario: 6 hours of readings that happen to fall steeply; the rule needs 7.5 days of data.
    h = await harness(RULE);
    await h.feed(reading('soil-a', T0, { soil_organic_carbon: 4.02 }), reading('soil-a', T0 + 3 * HOUR, { soil_organic_carbon: 4.0 }), reading('soil-a', T0 + 6 * HOUR, { soil_organic_carbon: 3.98 }));
    await h.tick();
    expect(h.published).toHaveLength(0);
    expect(h.engine.alerts()).toHaveLength(0);
  });

  it('out-of-order and duplicated readings give the same answer as in order', async () => {
    // Scenario: the same 30 days of readings, shuffled and half of them delivered twice.
    h = await harness(RULE);
    const pts = series(-1, 30);
    const shuffled = [...pts].sort((x, y) => ((x.ts * 7919) % 104729) - ((y.ts * 7919) % 104729));
    for (const p of [...shuffled, ...shuffled.slice(0, 60)]) h.engine.onReadings([reading('soil-a', p.ts, { soil_organic_carbon: p.v })]);
    await h.tick();
    const [a] = h.messages('carbon-decline');
    expect(Number(a?.facts.rate)).toBeCloseTo(-1, 1);
    expect(a?.facts.points).toBe(pts.length);
  });
});
