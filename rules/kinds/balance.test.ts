import { afterEach, describe, expect, it } from 'vitest';
import { DAY, harness, type Harness, HOUR, reading, ruleFile, T0 } from '../testing.ts';

const RULE = ruleFile('withdrawals-above-recharge', 'balance', {
  select: '{ domain: water }',
  window: '7d',
  extraction: '{ metric: withdrawal, over: sum, label: withdrawals }',
  regeneration: '{ metric: rainfall, over: sum, scale: 100, label: recharge }',
  unit: 'm3',
  exceedBy: 20,
});

/** Two wells pumping `perWell` m³ a day and a rain gauge measuring `rainPerDay` mm, as 6-hourly readings. */
async function week(h: Harness, perWell: number, rainPerDay: number, from = T0): Promise<void> {
  for (let t = 6 * HOUR; t <= 7 * DAY; t += 6 * HOUR) {
    h.engine.onReadings([
      reading('well-1', from + t, { withdrawal: perWell / 4 }),
      reading('well-2', from + t, { withdrawal: perWell / 4 }),
      reading('rain-1', from + t, { rainfall: rainPerDay / 4 }),
    ]);
  }
  await h.engine.idle();
}

describe('balance', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('two wells withdrawing 700 m³ a week each against 1,000 m³ of recharge: 40 % over, fires', async () => {
    // Scenario: known sums over 7 days: extraction 1,400 m³, regeneration 10 mm × 100 = 1,000 m³.
    h = await harness(RULE);
    await week(h, 100, 10 / 7);
    await h.tick();
    const [a] = h.messages('withdrawals-above-recharge');
    expect(a?.subject).toBe('demo');
    expect(a?.scope).toBe('hub');
    expect(Number(a?.facts.extraction)).toBeCloseTo(1400, 6);
    expect(Number(a?.facts.regeneration)).toBeCloseTo(1000, 6);
    expect(Number(a?.facts.excessPercent)).toBeCloseTo(40, 6);
    expect(a?.message).toMatch(
      /^Water balance at hub demo: extraction exceeded regeneration by 40% over the last 7 days \(withdrawals 1,400 m³ vs recharge 1,000 m³; limit 20%\); observed since /,
    );
  });

  it('within the margin (8 % over) does not fire; dry weeks (no recharge at all) do', async () => {
    // Scenario: week 1 with 13 mm of rain (1,300 m³ vs 1,400 m³: 7.7 % over, limit 20 %): quiet;
    // then two weeks without rain: once the sliding 7-day window holds no rain at all, unbounded excess.
    h = await harness(RULE);
    await week(h, 100, 13 / 7);
    await h.tick();
    expect(h.published).toHaveLength(0);
    expect(h.engine.alerts()).toHaveLength(0);
    await week(h, 100, 0, T0 + 7 * DAY);
    await week(h, 100, 0, T0 + 14 * DAY);
    await h.tick();
    expect(h.messages('withdrawals-above-recharge')[0]?.message).toContain('by an unbounded margin (no regeneration at all)');
  });

  it('needs readings on both sides reaching back half the window', async () => {
    // Scenario: only 2 days of data: no verdict yet.
    h = await harness(RULE);
    for (let t = 6 * HOUR; t <= 2 * DAY; t += 6 * HOUR) h.engine.onReadings([reading('well-1', T0 + t, { withdrawal: 100 }), reading('rain-1', T0 + t, { rainfall: 0 })]);
    await h.tick();
    expect(h.engine.alerts()).toHaveLength(0);
  });

  it('energy: mean demand against mean generation of two metrics, per site', async () => {
    // Scenario: site north: demand 8 or 10 kW hour by hour (mean 9.04 kW over 25 readings) vs solar 2 kW + wind 1 kW
    // (201 % over, limit 100 %): fires;
    // site south: demand 5 kW vs 4 kW solar: 25 % over: quiet.
    h = await harness(`
rules:
  - id: energy-deficit
    kind: balance
    select: { domain: energy }
    aggregate: { by: site }
    window: 1d
    extraction: { metric: demand_power, over: mean }
    regeneration: { metrics: [pv_power, wind_power], over: mean, label: local generation }
    exceedBy: 100
`);
    for (let t = 0; t <= DAY; t += HOUR) {
      h.engine.onReadings([
        reading('demand-n', T0 + t, { demand_power: t % (2 * HOUR) ? 8000 : 10000 }, { site: 'north' }),
        reading('pv-n', T0 + t, { pv_power: 2000 }, { site: 'north' }),
        reading('wind-n', T0 + t, { wind_power: 1000 }, { site: 'north' }),
        reading('demand-s', T0 + t, { demand_power: 5000 }, { site: 'south' }),
        reading('pv-s', T0 + t, { pv_power: 4000 }, { site: 'south' }),
      ]);
    }
    await h.tick();
    const msgs = h.messages('energy-deficit');
    expect(msgs.map((m) => m.subject)).toEqual(['north']);
    expect(Number(msgs[0]?.facts.excessPercent)).toBeCloseTo(((9040 - 3000) / 3000) * 100, 6);
    expect(msgs[0]?.message).toContain('Energy balance at site north (demo): extraction exceeded regeneration by 201.3% over the last 24 hours (energy demand 9,040 W vs local generation 3,000 W');
  });
});
