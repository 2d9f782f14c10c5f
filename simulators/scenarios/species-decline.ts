/** `species-decline`: detections halve every week and the rarer species vanish first. */
import type { ScenarioDefinition } from '../scenarios.ts';

const DAY_MS = 86_400_000;

const speciesDecline: ScenarioDefinition = {
  name: 'species-decline',
  description: 'Detections fall by half every week and the rarer species disappear first: richness declines over days.',
  modifiers: (e) => {
    const days = e / DAY_MS;
    return { biodiversityFactor: Math.pow(0.5, days / 7), richnessFactor: 0.2 + 0.8 * Math.exp(-days / 12) };
  },
  expect: [
    { rule: 'richness-decline', subject: ['oakwood', 'mire'], severity: 'warning', window: [0, 28], because: 'the species present at each site fall week after week' },
    { rule: 'shannon-decline', subject: ['oakwood', 'mire'], severity: 'warning', window: [0, 28], optional: true, because: 'fewer species, less evenly detected' },
  ],
  backtestDays: 28,
  // Live, it begins with the replay: a month in, too few detections are left for a weekly index.
  liveLeadDays: 0,
  // Its alerts compare a week with the week before, and fire about 17 simulated days in: at six
  // hours a second that is about 70 s.
  liveSpeed: 21_600,
};
export default speciesDecline;
