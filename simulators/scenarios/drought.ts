/**
 * `drought`: no rain, heavier pumping and more evaporation. The aquifer falls steadily (after a
 * few days of recharge from rain that fell before), withdrawals far exceed recharge, soils dry out.
 */
import type { ScenarioDefinition } from '../scenarios.ts';

const drought: ScenarioDefinition = {
  name: 'drought',
  description:
    'No rain, pumping 2.5× (longer pumping windows), evapotranspiration 1.5×, 2 °C warmer and clearer skies: soils dry out and the aquifer falls steadily.',
  modifiers: () => ({ rainFactor: 0, pumpingFactor: 2.5, petFactor: 1.5, temperatureOffsetC: 2, cloudFactor: 0.6 }),
  expect: [
    { rule: 'aquifer-depletion', subject: ['well-1', 'well-2'], severity: 'critical', window: [0, 30], because: "each pumped well's mean level falls steadily towards its safe minimum" },
    { rule: 'withdrawals-above-recharge', subject: 'demo', severity: 'warning', window: [0, 30], because: 'the wells pump 2.5× the usual volume and no rain recharges the aquifer' },
    { rule: 'soil-moisture-low', subject: ['soil-meadow', 'soil-arable'], severity: 'warning', window: [0, 60], optional: true, because: 'the soils dry towards the wilting point' },
    { rule: 'river-stage-low', subject: 'river-1', severity: 'warning', window: [0, 60], optional: true, because: 'the beck runs on baseflow alone' },
  ],
  backtestDays: 60,
};
export default drought;
