/**
 * Fleets: which simulated sensors a hub has. `demoFleet(hub)` is the demo hub (all four
 * commons, 20 sensors); `createFleetSimulation` instantiates a fleet against one shared
 * Environment, applying the scenario's sensor faults. The runner and `generate` both use it.
 */
import type { Domain } from '../core/ids.ts';
import { isId } from '../core/ids.ts';
import { dataTopic } from '../core/topics.ts';
import { SIMULATORS, getSimulator } from './all.ts';
import { createSensor } from './define.ts';
import { type Environment, type EnvironmentParamsInput, createEnvironment } from './environment.ts';
import { SimulatorError } from './errors.ts';
import { hashSeed } from './random.ts';
import type { SensorFault } from './scenarios.ts';
import type { ReadingPayload, SimulatedSensor } from './types.ts';

/** One simulated sensor of a hub. */
export interface FleetEntry {
  /** Sensor id: the `{sensor}` topic level; the device's MQTT username is `{hub}.{sensor}`. */
  sensor: string;
  /** Simulator kind (a key of SIMULATORS). */
  kind: string;
  /** The simulator's domain (what the device is registered under). */
  domain: Domain;
  /** Site id for the storage tag. */
  site: string;
  /** The simulator's config (validated by its schema; omitted keys take their defaults). */
  config?: Record<string, unknown>;
}

/** A fleet entry with the domain filled in from the registry. Throws SimulatorError on an unknown kind. */
export function fleetEntry(sensor: string, kind: string, site: string, config?: Record<string, unknown>): FleetEntry {
  const e: FleetEntry = { sensor, kind, domain: getSimulator(kind).domain, site };
  if (config) e.config = config;
  return e;
}

/**
 * The demo fleet of one hub across the four commons (20 sensors): two pumped wells, a river
 * gauge and a water-quality sonde on the same beck, a rain gauge; two soil stations (a
 * regeneratively grazed meadow, an arable field); PV, a wind turbine, the hub battery, the
 * community feeder and six household meters in three areas; acoustic monitors in a wood and a
 * mire; the community's citizen-science stream; and one sensor of each other registered kind.
 * Household ids are derived from the hub id.
 */
export function demoFleet(hub: string): FleetEntry[] {
  if (!isId(hub)) throw new SimulatorError('SIM_ERR_CONFIG', `invalid hub id ${JSON.stringify(hub)}`);
  const hh = (i: number): string => `hh-${String((hashSeed(hub, 'household', i) % 9000) + 1000).padStart(4, '0')}`;
  const areas = ['north', 'north', 'south', 'south', 'east', 'east'];
  const fleet = [
    // water
    fleetEntry('well-1', 'groundwater', 'wellfield', { pumpRateM3h: 60, drawdownPerM3h: 0.04, schedule: [[5, 8], [17, 20]] }),
    fleetEntry('well-2', 'groundwater', 'wellfield', { pumpRateM3h: 60, drawdownPerM3h: 0.05, schedule: [[8, 11], [20, 23]], headOffsetM: -0.6 }),
    fleetEntry('river-1', 'river', 'beck-bridge'),
    fleetEntry('wq-1', 'water-quality', 'beck-bridge'),
    fleetEntry('rain-1', 'rain-gauge', 'hub-roof'),
    // soil
    fleetEntry('soil-meadow', 'soil', 'meadow', { carbonInputGm2yr: 400, initialSocPct: 4.1 }),
    fleetEntry('soil-arable', 'soil', 'arable', { carbonInputGm2yr: 240, initialSocPct: 2.2, bulkDensity: 1.35, fieldCapacity: 0.29 }),
    // energy
    fleetEntry('pv-1', 'solar', 'hub-roof'),
    fleetEntry('wind-1', 'wind', 'ridge'),
    fleetEntry('battery-1', 'battery', 'hub'),
    fleetEntry('demand-1', 'community-demand', 'feeder'),
    ...areas.map((area, i) => fleetEntry(`meter-0${i + 1}`, 'household-meter', area, { householdId: hh(i), area })),
    // biodiversity
    fleetEntry('acoustic-wood', 'acoustic-monitor', 'oakwood', { habitat: 'woodland', poolSize: 40 }),
    fleetEntry('acoustic-mire', 'acoustic-monitor', 'mire', { habitat: 'wetland', poolSize: 30, detectionsPerDay: 250 }),
    fleetEntry('citizen-1', 'citizen-observation', 'community'),
  ];
  // Every other registered simulator (a new one) joins the demo with one sensor, `<kind>-1` at
  // site `<kind>`, on its defaults: registering it is enough for it to publish.
  for (const kind of Object.keys(SIMULATORS)) {
    if (fleet.some((e) => e.kind === kind)) continue;
    let n = 1;
    while (fleet.some((e) => e.sensor === `${kind}-${n}`)) n++;
    fleet.push(fleetEntry(`${kind}-${n}`, kind, kind));
  }
  return fleet;
}

/** A sensor of a running fleet. */
export interface FleetSensor {
  entry: FleetEntry;
  sensor: SimulatedSensor;
  domain: Domain;
  /** `csm/v1/{hub}/{domain}/{sensor}/data`. */
  topic: string;
  /** The scenario's fault for this sensor, if any. */
  fault?: SensorFault;
}

export interface FleetSimulationOptions {
  hub: string;
  fleet: readonly FleetEntry[];
  seed: number;
  /** Simulated start, epoch ms. */
  startMs: number;
  scenario?: string;
  /** When the scenario begins; default `startMs`. */
  scenarioStartMs?: number;
  /** Simulated seconds between readings for every sensor (overrides each simulator's own interval). */
  intervalS?: number;
  /** Parameters of the hub's world (see environment.ts). */
  environment?: EnvironmentParamsInput;
  /** Moves the world's seasons (Environment `seasonShiftMs`). */
  seasonShiftMs?: number;
}

export interface FleetSimulation {
  environment: Environment;
  sensors: FleetSensor[];
}

/**
 * Checks a fleet without creating anything: valid and unique sensor ids, known kinds, configs that
 * validate. Throws SimulatorError naming the first problem.
 */
export function validateFleet(hub: string, fleet: readonly FleetEntry[]): void {
  if (!isId(hub)) throw new SimulatorError('SIM_ERR_CONFIG', `invalid hub id ${JSON.stringify(hub)}`);
  const seen = new Set<string>();
  for (const e of fleet) {
    if (!isId(e.sensor)) throw new SimulatorError('SIM_ERR_CONFIG', `invalid sensor id ${JSON.stringify(e.sensor)}`);
    if (!isId(e.site)) throw new SimulatorError('SIM_ERR_CONFIG', `sensor "${e.sensor}": invalid site id ${JSON.stringify(e.site)}`);
    if (seen.has(e.sensor)) throw new SimulatorError('SIM_ERR_DUPLICATE_SENSOR', `sensor id "${e.sensor}" appears twice in the fleet`);
    seen.add(e.sensor);
    const def = getSimulator(e.kind);
    if (def.domain !== e.domain) {
      throw new SimulatorError('SIM_ERR_CONFIG', `sensor "${e.sensor}": simulator "${e.kind}" is in domain ${def.domain}, the entry says ${e.domain}`);
    }
    const parsed = def.configSchema.safeParse(e.config ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new SimulatorError('SIM_ERR_CONFIG', `sensor "${e.sensor}" (${e.kind}): ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`);
    }
  }
}

/** Instantiates a fleet against one shared Environment. Throws SimulatorError on any invalid entry. */
export function createFleetSimulation(opts: FleetSimulationOptions): FleetSimulation {
  validateFleet(opts.hub, opts.fleet);
  const envOpts: Parameters<typeof createEnvironment>[0] = { hub: opts.hub, seed: opts.seed, startMs: opts.startMs };
  if (opts.environment) envOpts.params = opts.environment;
  if (opts.scenario !== undefined) envOpts.scenario = opts.scenario;
  if (opts.scenarioStartMs !== undefined) envOpts.scenarioStartMs = opts.scenarioStartMs;
  if (opts.seasonShiftMs !== undefined) envOpts.seasonShiftMs = opts.seasonShiftMs;
  const environment = createEnvironment(envOpts);
  const sensors = opts.fleet.map((entry): FleetSensor => {
    const def = getSimulator(entry.kind);
    const config = opts.intervalS !== undefined ? { ...entry.config, intervalS: opts.intervalS } : entry.config;
    const seed = hashSeed(opts.seed, opts.hub, entry.sensor);
    let sensor = createSensor(def, { id: entry.sensor, hub: opts.hub, site: entry.site, seed, config, environment });
    const fault = environment.scenario?.fault?.({ id: entry.sensor, kind: entry.kind }, opts.seed);
    if (fault) sensor = new FaultySensor(sensor, fault, environment.scenarioStartMs + fault.afterMs);
    const fs: FleetSensor = { entry, sensor, domain: def.domain, topic: dataTopic({ hub: opts.hub, domain: def.domain, sensor: entry.sensor }) };
    if (fault) fs.fault = fault;
    return fs;
  });
  return { environment, sensors };
}

/** The logger error sentinel a failing sensor sends for every metric (outside every catalogue range). */
export const GARBAGE_VALUE = -9999;

/** Wraps a sensor so that it misbehaves from `fromMs` on (scenario `sensor-failure`). */
class FaultySensor implements SimulatedSensor {
  readonly #inner: SimulatedSensor;
  readonly #fault: SensorFault;
  readonly #fromMs: number;
  #frozen: ReadingPayload['metrics'] | undefined;

  constructor(inner: SimulatedSensor, fault: SensorFault, fromMs: number) {
    this.#inner = inner;
    this.#fault = fault;
    this.#fromMs = fromMs;
  }

  get id(): string {
    return this.#inner.id;
  }
  get kind(): string {
    return this.#inner.kind;
  }
  get domain(): Domain {
    return this.#inner.domain;
  }
  get intervalS(): number {
    return this.#inner.intervalS;
  }

  next(simTimeMs: number): ReadingPayload[] {
    const out = this.#inner.next(simTimeMs);
    if (simTimeMs < this.#fromMs) {
      if (out.length > 0) this.#frozen = out[out.length - 1]?.metrics;
      return out;
    }
    switch (this.#fault.mode) {
      case 'silent':
        return [];
      case 'stuck':
        return this.#frozen ? out.map((p) => ({ ...p, metrics: { ...this.#frozen } })) : out;
      case 'garbage':
        return out.map((p) => ({ ...p, metrics: Object.fromEntries(Object.keys(p.metrics).map((k) => [k, GARBAGE_VALUE])) }));
    }
  }
}
