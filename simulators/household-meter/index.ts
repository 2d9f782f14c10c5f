/**
 * `household-meter`: one home's smart meter, sampling instantaneous power. A standby load and a
 * cycling fridge, lights after dark, and appliances drawn per day from the household's seed:
 * kettle boils, a cooked evening meal, electric showers, the washing machine and dishwasher, an
 * electric car charging overnight, electric heating when it is cold. Weekdays and weekends differ.
 *
 * PERSONAL DATA: every reading carries `household_id`, the exact home coordinate (with
 * `at_home: true`) and the load of one family, which reveals when they are in, asleep or away.
 * The privacy boundary must strip or aggregate them before anything leaves the raw tier.
 */
import type { Location } from '../../core/reading.ts';
import { BaseSensor, clamp, defineSimulator, randomPointNear, round } from '../define.ts';
import { Rng } from '../random.ts';
import type { ReadingPayload, SimulatorCreateOptions } from '../types.ts';
import { type Config, configSchema } from './config.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface ApplianceRun {
  start: number;
  end: number;
  watts: number;
}

interface Household {
  id: string;
  area: string;
  home: Location;
  occupants: number;
  electricHeating: boolean;
  electricVehicle: boolean;
  electricShower: boolean;
  awayOnWeekdays: boolean;
  standbyW: number;
  fridgePhaseMin: number;
}

class HouseholdMeter extends BaseSensor<Config> {
  readonly #h: Household;
  readonly #days = new Map<number, ApplianceRun[]>();

  constructor(opts: SimulatorCreateOptions<Config>) {
    super(opts, 'household-meter', 'energy');
    const c = opts.config;
    const r = Rng.derive(opts.seed, 'household');
    const env = opts.environment;
    const home = c.home ?? { ...randomPointNear(env.params.latitude, env.params.longitude, 1.5, r), acc: 5 };
    this.#h = {
      id: c.householdId ?? `hh-${String(r.int(1, 9999)).padStart(4, '0')}`,
      area: c.area,
      home,
      occupants: c.occupants ?? r.pick([1, 2, 2, 2, 3, 3, 4, 4, 5]),
      electricHeating: c.electricHeating ?? r.chance(0.3),
      electricVehicle: c.electricVehicle ?? r.chance(0.25),
      electricShower: c.electricShower ?? r.chance(0.5),
      awayOnWeekdays: c.awayOnWeekdays ?? r.chance(0.6),
      standbyW: r.uniform(40, 140),
      fridgePhaseMin: r.uniform(0, 50),
    };
  }

  /** The appliance runs that start on local day `day` (seeded, so the same on every call). */
  #runs(day: number): ApplianceRun[] {
    let runs = this.#days.get(day);
    if (runs) return runs;
    const h = this.#h;
    const r = Rng.derive(this.seed, 'day', day);
    const midnight = day * DAY - this.env.params.utcOffsetH * HOUR;
    const weekend = this.env.isWeekend(midnight + 12 * HOUR);
    const wake = weekend ? r.uniform(7.5, 9.5) : r.uniform(6, 7.3);
    const at = (hour: number): number => midnight + Math.round(hour * HOUR);
    runs = [];
    const add = (hour: number, minutes: number, watts: number): void => {
      runs?.push({ start: at(hour), end: at(hour) + Math.round(minutes * MIN), watts });
    };
    // Kettle: after waking, mid-morning and afternoon tea when home, in the evening.
    add(wake + r.uniform(0.1, 0.4), r.uniform(2.5, 4), 2800);
    if (weekend || !h.awayOnWeekdays) {
      if (r.chance(0.7)) add(r.uniform(10, 11.5), 3, 2800);
      if (r.chance(0.6)) add(r.uniform(12.3, 13.5), r.uniform(4, 8), 1100); // microwave / toaster
      if (r.chance(0.7)) add(r.uniform(15, 16.5), 3, 2800);
    }
    if (r.chance(0.6)) add(r.uniform(20, 22), 3, 2800);
    // Showers, one per occupant on most days.
    for (let i = 0; i < h.occupants; i++) {
      if (!r.chance(0.75)) continue;
      const hour = r.chance(0.75) ? wake + r.uniform(0, 1) : r.uniform(19, 22.5);
      add(hour, r.uniform(5, 10), h.electricShower ? 8500 : 120);
    }
    // Evening meal: oven or hob.
    const dinner = r.uniform(17.3, 19.3);
    add(dinner, r.uniform(25, 70), r.uniform(1500, 2500));
    // Washing machine: heat, then wash, then spin.
    if (r.chance(0.12 + 0.08 * h.occupants)) {
      const s = r.uniform(weekend ? 9 : 18, weekend ? 16 : 21);
      add(s, 15, 2000);
      add(s + 0.25, 60, 250);
      add(s + 1.25, 10, 500);
    }
    // Dishwasher after dinner.
    if (r.chance(0.1 + 0.1 * h.occupants)) {
      const s = dinner + r.uniform(1.5, 3);
      add(s, 20, 1800);
      add(s + 0.35, 55, 150);
      add(s + 1.25, 15, 1800);
    }
    // Electric car: plugged in in the evening, charges at 7.2 kW until full.
    if (h.electricVehicle && r.chance(0.45)) add(r.uniform(18.5, 23), r.uniform(80, 260), 7200);
    this.#days.set(day, runs);
    if (this.#days.size > 4) this.#days.delete(Math.min(...this.#days.keys()));
    return runs;
  }

  #occupied(t: number): boolean {
    const hour = this.env.localHour(t);
    return !(this.#h.awayOnWeekdays && !this.env.isWeekend(t) && hour >= 8.5 && hour < 17);
  }

  #power(t: number): number {
    const h = this.#h;
    const env = this.env;
    const hour = env.localHour(t);
    let w = h.standbyW;
    // Fridge compressor: 40 % duty on a 50-minute cycle.
    if (((t / MIN + h.fridgePhaseMin) % 50) < 20) w += 90;
    const home = this.#occupied(t);
    const awake = hour >= 6 && hour < 23.5;
    if (home && awake) {
      if (env.sun(t).elevationDeg < 3) w += 60 * h.occupants + 80;
      if (hour >= 18) w += 120; // TV, computers
    }
    const day = env.localDay(t);
    for (const d of [day - 1, day]) {
      for (const run of this.#runs(d)) if (t >= run.start && t < run.end) w += run.watts;
    }
    if (h.electricHeating) {
      // A heat pump: ~60 W of electricity per °C between the thermostat and the outside air.
      const target = home && awake ? 19 : 15;
      const need = Math.max(0, target - env.airTemperature(t));
      w += Math.min(4000, 60 * need * (0.8 + 0.4 * this.rng.next()));
    }
    return w;
  }

  protected step(t: number): ReadingPayload[] {
    const w = clamp(this.#power(t) * (1 + this.rng.normal(0, 0.02)), 0, 1e6);
    return [
      this.reading(
        t,
        { household_power: round(w, 0) },
        { location: this.#h.home, attributes: { household_id: this.#h.id, area: this.#h.area, at_home: true } },
      ),
    ];
  }
}

export default defineSimulator({
  kind: 'household-meter',
  domain: 'energy',
  description: 'One home\'s smart meter (PERSONAL): household_power with appliance spikes; household_id, area, exact home location.',
  metrics: ['household_power'],
  configSchema,
  create: (opts) => new HouseholdMeter(opts),
});
