/**
 * Alert quality, measured: `steward rules backtest` for every scenario and for a year of normal
 * weather (cli/backtest.ts). The demo fleet's simulators and the real rules engine with the
 * shipped rules run on simulated time, offline: no broker (the MQTT path is covered by
 * tests/rules-pipeline.test.ts). Sampling: every sensor every 30 simulated minutes, scheduled rules
 * every simulated hour (stated in docs/alerts.md, which the same code generates).
 */
import { describe, expect, it } from 'vitest';
import { type BacktestReport, runBacktest } from '../cli/backtest.ts';
import { SCENARIOS } from '../simulators/scenarios.ts';

const DAY = 86_400_000;

/** Each scenario's backtest runs once (the slowest part); the tests below read the same report. */
const reports = new Map<string, Promise<BacktestReport>>();
function backtest(scenario: string): Promise<BacktestReport> {
  let r = reports.get(scenario);
  if (!r) reports.set(scenario, (r = runBacktest({ scenario })));
  return r;
}

describe('backtest of the demo rules (docs/alerts.md)', () => {
  it('normal weather, 365 simulated days: no critical alert and at most 2 warnings, nothing flaps', async () => {
    const r = await runBacktest({ scenario: 'normal', days: 365 });
    expect(r.firings.filter((f) => f.severity === 'critical')).toEqual([]);
    expect(r.firings.filter((f) => f.severity === 'warning').length).toBeLessThanOrEqual(2);
    expect(r.firings.filter((f) => f.flap)).toEqual([]);
    expect(r.verdict).toEqual({ ok: true, problems: [] });
  }, 600_000);

  for (const name of Object.keys(SCENARIOS).filter((n) => n !== 'normal')) {
    it(`${name}: raises every alert it declares, in its window, and nothing critical it does not; nothing flaps`, async () => {
      const r = await backtest(name);
      expect(r.misses).toEqual([]);
      expect(r.firings.filter((f) => !f.expected && f.severity === 'critical')).toEqual([]);
      expect(r.firings.filter((f) => f.flap)).toEqual([]);
      expect(r.rules.filter((s) => s.acksLost > 0)).toEqual([]);
      expect(r.verdict).toEqual({ ok: true, problems: [] });
    }, 300_000);
  }

  it('drought: the depletion forecast fires at least 7 days before the well really reaches its floor', async () => {
    const r = await backtest('drought');
    const depletion = r.firings.filter((f) => f.rule === 'aquifer-depletion');
    expect(depletion.map((f) => f.subject).sort()).toEqual(['well-1', 'well-2']);
    for (const f of depletion) expect(f.leadDays).toBeGreaterThanOrEqual(7);
    // The ground truth: well-2 (0.6 m lower) really crosses 39 m within the run; the alert came first.
    const crossing = r.truth.floorCrossings.find((c) => c.subject === 'well-2');
    expect(crossing?.at).not.toBeNull();
    expect(Date.parse(crossing?.at as string) - (depletion.find((f) => f.subject === 'well-2')?.firedAt ?? 0)).toBeGreaterThanOrEqual(7 * DAY);
  }, 300_000);
});
