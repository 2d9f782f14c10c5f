/** `heatwave`: 10 °C hotter within two days, clear skies, little rain; cooling demand up, oxygen in the river down. */
import type { ScenarioDefinition } from '../scenarios.ts';

const DAY_MS = 86_400_000;

const heatwave: ScenarioDefinition = {
  name: 'heatwave',
  description: 'Air temperature climbs 10 °C over two days and stays; clear skies, little rain; cooling demand rises, oxygen in the river falls.',
  modifiers: (e) => {
    const r = Math.min(1, e / (2 * DAY_MS));
    return {
      temperatureOffsetC: 10 * r,
      cloudFactor: 1 - 0.7 * r,
      rainFactor: 1 - 0.8 * r,
      petFactor: 1 + 0.4 * r,
      biodiversityFactor: 1 - 0.25 * r,
    };
  },
  expect: [
    { rule: 'river-oxygen-low', subject: 'wq-1', severity: 'warning', window: [1, 21], because: 'the warm beck holds less oxygen: below 7.5 mg/L in the afternoons' },
    { rule: 'soil-moisture-low', subject: ['soil-meadow', 'soil-arable'], severity: 'warning', window: [0, 21], optional: true, because: 'hot, rainless days dry the soils' },
  ],
  backtestDays: 21,
  // Live, a heatwave in July whatever today's date (in winter the beck never gets warm enough).
  liveSeasonDay: 196,
};
export default heatwave;
