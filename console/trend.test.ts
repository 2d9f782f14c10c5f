import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RULES_DIR } from '../rules/index.ts';
import { DAY, harness, type Harness, HOUR, reading, T0 } from '../rules/testing.ts';
import { standing } from './src/commons.ts';
import { alertTrend, fitTrend, trendRule } from './src/trend.ts';
import type { Alert } from './src/types.ts';
import { thresholdsFromRulesDir } from '../rules/index.ts';

const demoYaml = readFileSync(join(DEFAULT_RULES_DIR, 'demo.yaml'), 'utf8');
const limits = thresholdsFromRulesDir(DEFAULT_RULES_DIR);
const aquifer = limits.filter((l) => l.metric === 'groundwater_level');

/** A pumped well: the 24-hour mean falls 5 cm a day from 41 m, and pumping swings it ±1 m within each day. */
const level = (t: number): number => 41 - 0.05 * ((t - T0) / DAY) + Math.sin((2 * Math.PI * (t - T0)) / DAY);

describe('the overview fits trends as the rules do', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it("a well's trend on the page is the depletion rule's: same fitted level, same rate, over the rule's window", async () => {
    h = await harness(demoYaml);
    const ts: number[] = [];
    const values: number[] = [];
    for (let t = T0; t <= T0 + 5 * DAY; t += HOUR) {
      ts.push(t);
      values.push(level(t));
      h.engine.onReadings([reading('well-1', t, { groundwater_level: level(t) })]);
    }
    await h.tick();
    const [evaluation] = h.engine.alerts({ rule: 'aquifer-depletion', subject: 'well-1', state: ['inactive', 'pending', 'firing', 'resolved'] });
    expect(evaluation?.facts.level).toBeTypeOf('number');

    const rule = trendRule(aquifer);
    expect(rule?.trend).toMatchObject({ windowMs: 3 * DAY, smoothMs: DAY });
    const page = fitTrend(ts, values, 'm', rule?.trend);
    expect(page?.level).toBeCloseTo(evaluation?.facts.level as number, 9);
    expect(page?.perDay).toBeCloseTo(evaluation?.facts.ratePerDay as number, 9);
    expect(page?.words).toBe('falling 5 cm a day');
    expect(page?.over).toBe('the last 3 days of 24-hour means');
    // The alert's own numbers read the same.
    const fromAlert = alertTrend(evaluation as unknown as Alert, 'm');
    expect(fromAlert).toMatchObject({ words: page?.words, over: page?.over, source: 'alert' });
    expect(fromAlert?.level).toBe(evaluation?.facts.level);
  });

  it('gives no trend before the rule has its minimum evidence (two days of 24-hour means), rather than an artefact of the first hours', () => {
    const ts: number[] = [];
    const values: number[] = [];
    for (let t = T0; t <= T0 + 2.5 * DAY; t += HOUR) {
      ts.push(t);
      values.push(level(t));
    }
    const spec = trendRule(aquifer)?.trend;
    expect(fitTrend(ts, values, 'm', spec)).toBeUndefined();
    // Unsmoothed, the same hours would read as a steep daily swing.
    expect(Math.abs(fitTrend(ts.slice(0, 8), values.slice(0, 8), 'm', { windowMs: DAY, smoothMs: 0, minPoints: 3, minSpanMs: HOUR })?.perDay ?? 0)).toBeGreaterThan(1);
  });
});

describe("a stock's badge is its alerts' state", () => {
  const battery = limits.filter((l) => l.metric === 'battery_soc');
  const carbon = limits.filter((l) => l.metric === 'soil_organic_carbon');
  const alert = (rule: string, state: Alert['state']): Alert => ({ id: `demo.${rule}.x`, hub: 'demo', rule, subject: 'x', scope: 'sensor', kind: 'threshold', severity: 'critical', state, episode: 1, message: '', summary: 'battery low', value: 8, unit: '%', facts: {}, labels: {}, activeAt: null, firedAt: null, resolvedAt: null, updatedAt: new Date(T0).toISOString(), acknowledged: null, silencedBy: [] });

  it('a value past a limit while no alert fires is not "Past limit": the rule has not fired (its for-duration, its evidence)', () => {
    const st = standing(8, '%', battery, undefined, []);
    expect(st.badge).toBe('OK');
    expect(st.words).toContain('2 % under the lower limit of 10 %');
  });

  it('firing is "Alert", pending is "Pending"', () => {
    expect(standing(8, '%', battery, undefined, [alert('battery-low', 'firing')])).toMatchObject({ badge: 'Alert', level: 'bad' });
    expect(standing(8, '%', battery, undefined, [alert('battery-low', 'pending')])).toMatchObject({ badge: 'Pending', level: 'near' });
  });

  it("soil carbon falling fast over a week is not judged here: only the rate rule's 90-day fit can fire", () => {
    const week = fitTrend([T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY], [3, 2.99, 2.98, 2.97], '%', { windowMs: 7 * DAY, smoothMs: 0, minPoints: 3, minSpanMs: DAY }, 'year');
    const st = standing(2.97, '%', carbon, week, []);
    expect(st.badge).toBe('OK');
    expect(st.words).toBe('A rule warns when it is falling faster than 0.5 points a year.');
  });
});
