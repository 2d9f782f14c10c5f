import { describe, expect, it } from 'vitest';
import { runSimulatorContract, sensorFactory } from '../contract.ts';
import { fleetEntry } from '../fleet.ts';
import { generate } from '../runner.ts';
import householdMeter from './index.ts';

runSimulatorContract('household-meter', sensorFactory(householdMeter));

const DAY = 86_400_000;

describe('household-meter', () => {
  // Homes heated by gas: their electricity is appliances, lights and standby.
  const fleet = [1, 2, 3].map((i) => fleetEntry(`meter-0${i}`, 'household-meter', 'north', { area: 'north', electricHeating: false }));
  const msgs = [...generate(fleet, 42, Date.UTC(2024, 1, 5), Date.UTC(2024, 1, 5) + 7 * DAY)];

  it('carries the personal attributes: household id, area, the exact home coordinate marked at_home', () => {
    // Every reading (checked without `expect` per reading: there are 30 000 of them).
    const decimals = (x: number | undefined): number => String(x).split('.')[1]?.length ?? 0;
    const bad = msgs.filter((m) => {
      const a = m.payload.attributes;
      const loc = m.payload.location;
      return (
        !/^hh-\d{4}$/.test(String(a?.household_id)) ||
        a?.area !== 'north' ||
        a?.at_home !== true ||
        !loc ||
        decimals(loc.lat) < 4 || // exact: up to six decimals (~0.1 m)
        Math.abs(loc.lat - 54.15) > 0.02 // within 1.5 km of the hub
      );
    });
    expect(bad.slice(0, 3)).toEqual([]);
    const ids = new Set(msgs.map((m) => `${m.sensor}=${m.payload.attributes?.household_id}`));
    expect(ids.size).toBe(3);
  });

  it('looks like a home: a low base load with appliance spikes of kilowatts', () => {
    for (const e of fleet) {
      const w = msgs.filter((m) => m.sensor === e.sensor).map((m) => m.payload.metrics.household_power as number).sort((a, b) => a - b);
      expect(w[Math.floor(w.length / 2)]).toBeLessThan(900);
      expect(w[0]).toBeGreaterThan(20);
      expect(w[w.length - 1]).toBeGreaterThan(2500);
    }
  });

  it('uses more in the evening than in the small hours', () => {
    const byHour = (h: number): number => {
      const xs = msgs.filter((m) => new Date(m.payload.ts).getUTCHours() === h).map((m) => m.payload.metrics.household_power as number);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    expect(byHour(18)).toBeGreaterThan(2 * byHour(3));
  });

  it('draws more in a cold snap when heated by a heat pump', () => {
    const heated = [fleetEntry('meter-hp', 'household-meter', 'north', { electricHeating: true, electricVehicle: false })];
    const mean = (from: number): number => {
      const xs = [...generate(heated, 42, from, from + 7 * DAY)].map((m) => m.payload.metrics.household_power as number);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    expect(mean(Date.UTC(2024, 0, 15))).toBeGreaterThan(mean(Date.UTC(2024, 6, 15)) + 300);
  });
});
