/** `grid-outage`: the grid is down, little wind, a failed PV string, more demand: the battery drains into its reserve. */
import type { ScenarioDefinition } from '../scenarios.ts';

const gridOutage: ScenarioDefinition = {
  name: 'grid-outage',
  description: 'The grid is down, the turbine is becalmed and a PV string has failed while demand rises: the battery drains.',
  modifiers: () => ({ gridConnected: false, windFactor: 0.1, pvFactor: 0.35, demandFactor: 1.3 }),
  expect: [
    { rule: 'battery-low', subject: 'battery-1', severity: 'critical', window: [0, 3], because: 'off-grid, demand exceeds generation and the battery empties below its 10 % reserve' },
    { rule: 'energy-deficit', subject: 'demo', severity: 'warning', window: [0, 10], optional: true, because: 'demand is several times local generation' },
  ],
  backtestDays: 10,
};
export default gridOutage;
