/** `normal`: ordinary weather and use. The baseline; no alert is deserved, so every firing is a false one. */
import type { ScenarioDefinition } from '../scenarios.ts';

const normal: ScenarioDefinition = {
  name: 'normal',
  description: 'Ordinary weather and use: the baseline every other scenario changes.',
  modifiers: () => ({}),
  expect: [],
  backtestDays: 365,
};
export default normal;
