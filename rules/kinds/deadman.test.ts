import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness, MIN, reading, T0 } from '../testing.ts';

const RULE = `
rules:
  - id: sensor-silent
    kind: deadman
    select: { hub: demo }
    after: 15m
`;

describe('deadman', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('no reading for 15 minutes of wall clock fires; the next reading resolves it', async () => {
    // Scenario: well-1 reports at 00:00 (its own clock says 1999: sensor time is ignored), then nothing.
    h = await harness(RULE);
    await h.feed(reading('well-1', Date.UTC(1999, 0, 1), { groundwater_level: 41 }));
    h.clock.advance(15 * MIN);
    await h.tick();
    expect(h.published).toHaveLength(0); // exactly 15 minutes is not yet "more than 15"
    h.clock.advance(2 * MIN);
    await h.tick();
    const [a] = h.messages('sensor-silent');
    expect(a?.message).toBe(
      'No reading from well-1 (demo) for 17 minutes (limit 15 minutes); the last reading arrived 2026-11-25 00:00 UTC; observed since 2026-11-25 00:17 UTC',
    );
    h.clock.advance(MIN);
    await h.feed(reading('well-1', Date.UTC(1999, 0, 1, 0, 18), { groundwater_level: 41 }));
    await h.tick();
    expect(h.messages('sensor-silent').map((m) => m.event)).toEqual(['firing', 'resolved']);
  });

  it('missed: a sensor reporting every 30 minutes is silent after three missed readings, not after 15 minutes', async () => {
    // Scenario: soil-1 reports at 00:00, 00:30, 01:00, 01:30 then stops; limit max(15 min, 3 × 30 min) = 90 min.
    h = await harness(`
rules:
  - id: silent
    kind: deadman
    select: { domain: soil }
    after: 15m
    missed: 3
`);
    for (let k = 0; k < 4; k++) {
      h.clock.set(T0 + k * 30 * MIN);
      await h.feed(reading('soil-1', T0 + k * 30 * MIN, { soil_moisture: 0.3 }));
      await h.tick();
    }
    h.clock.set(T0 + 90 * MIN + 89 * MIN);
    await h.tick();
    expect(h.published).toHaveLength(0);
    h.clock.set(T0 + 90 * MIN + 91 * MIN);
    await h.tick();
    expect(h.messages('silent')[0]?.message).toContain('No reading from soil-1 (demo) for 91 minutes (it usually reports every 30 minutes; limit 90 minutes)');
  });

  it('a group: fires only when no sensor of the site has reported', async () => {
    // Scenario: wellfield has well-1 and well-2; well-1 stops at 00:00, well-2 at 00:10.
    h = await harness(`
rules:
  - id: site-silent
    kind: deadman
    select: { domain: water }
    aggregate: { by: site }
    after: 15m
`);
    await h.feed(reading('well-1', T0, { groundwater_level: 41 }, { site: 'wellfield' }));
    h.clock.set(T0 + 10 * MIN);
    await h.feed(reading('well-2', T0, { groundwater_level: 41 }, { site: 'wellfield' }));
    h.clock.set(T0 + 20 * MIN);
    await h.tick();
    expect(h.published).toHaveLength(0);
    h.clock.set(T0 + 26 * MIN);
    await h.tick();
    expect(h.messages('site-silent')[0]?.message).toContain('No reading from any of the 2 sensors at site wellfield (demo) for 16 minutes');
  });

  it('a registered sensor that never reports is silent 15 minutes after the engine started', async () => {
    // Scenario: the registry lists well-9; nothing ever arrives from it.
    h = await harness(RULE, { sensors: () => [{ hub: 'demo', sensor: 'well-9', domain: 'water', site: 'wellfield' }] });
    h.clock.advance(16 * MIN);
    await h.tick();
    expect(h.messages('sensor-silent')[0]?.message).toContain('No reading from well-9 (demo) for 16 minutes (limit 15 minutes); none has arrived since the rules engine started at 2026-11-25 00:00 UTC');
  });

  it('atLeast: once a sensor\'s rhythm is known, silence is missed readings (but at least atLeast); before, after', async () => {
    // Scenario: an accelerated simulation: well-1 reports every 30 s of wall clock, then stops. With
    // missed 3 and atLeast 1m it is silent after 1 minute (3 × 30 s = 90 s: after 90 s); a sensor
    // heard from once (rhythm unknown) is silent only after 15 minutes.
    h = await harness(`${RULE}    missed: 3\n    atLeast: 1m\n`);
    for (let i = 0; i < 6; i++) {
      await h.feed(reading('well-1', T0 + i * 30_000, { groundwater_level: 41 }));
      if (i === 0) await h.feed(reading('river-1', T0, { river_stage: 0.5 }));
      h.clock.advance(30_000);
    }
    h.clock.advance(70_000); // well-1: 100 s since its last reading (> 90 s)
    await h.tick();
    expect(h.messages('sensor-silent').map((m) => m.subject)).toEqual(['well-1']);
    expect(h.messages('sensor-silent')[0]?.facts.limitSeconds).toBe(90);
    h.clock.advance(12 * MIN); // river-1: over 15 minutes since its only reading
    await h.tick();
    expect(h.messages('sensor-silent').map((m) => m.subject)).toEqual(['well-1', 'river-1']);
  });
});
