import { expect, it } from 'vitest';
import { explainPolicy, explanationText } from './explain.ts';
import { TEST_SECRETS, defaultPolicy, policyFromYaml } from './testing.ts';

it('explains the default policy in plain language, with the numbers residents care about', () => {
  const e = explainPolicy(defaultPolicy());
  const text = explanationText(e);
  expect(e.version).toBe('default-3');
  for (const s of ['never stored or published', 'at least 15 households', 'more than 15%', 'for each day (UTC)', 'ε = 1 per household per day', 'at most 3000 W', 'more than 73% of the time', 'knows the meter readings of every other home', '0.2°', 'about 22 km', 'about 11 km', 'default-3', 'email']) expect(text).toContain(s);
  expect(e.effective.energy.metrics.household_power).toBe('aggregate');
  // Free text is not published by default; citizen and household sensors are personal by kind.
  expect(text).toContain("is not published: it stays with the hub's raw data");
  expect(e.effective.biodiversity.attributes.note).toBe('drop');
  expect(text).toContain('of every reading of a sensor of kind citizen-observation or household-meter whatever it carries, are rounded to a grid of 0.1°');
  expect(e.effective.biodiversity.attributes.observer_email).toBe('drop');
  expect(e.policy.sensitiveTaxa?.species).toContain('Ophrys');
  // names the key, never its secret
  expect(JSON.stringify(e)).not.toContain(TEST_SECRETS.hub);
});

it('explains withheld locations and other operations', () => {
  const e = explainPolicy(policyFromYaml('version: w-1\nsensitiveTaxa: { action: withhold, species: [Lutra lutra] }\ndomains: { water: { location: withhold } }'));
  const text = explanationText(e);
  expect(text).toContain('no location is published');
  expect(text).toContain('Locations of water sensors are not published');
});
