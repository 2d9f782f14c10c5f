/**
 * The simulator contract suite. Every simulator's index.test.ts calls
 * `runSimulatorContract(name, sensorFactory(definition))`; it checks what every consumer of
 * simulated readings relies on:
 * - payloads validate against core/reading.ts `nativeReadingSchema` and pass core/parse.ts
 *   `parsePayload` for the simulator's domain (catalogue metrics, canonical units, ranges, known
 *   attributes, species on biodiversity readings only);
 * - the same seed and start give the same readings; another seed gives other readings;
 * - `seq` strictly increases; `ts` strictly increases and lies in (previous step, step];
 * - the sensor copes with a gap (a runner stretching intervals skips steps);
 * - over 60 simulated days every value stays within the catalogue's range.
 */
import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, metricDef } from '../core/catalogue.ts';
import { isId } from '../core/ids.ts';
import { parsePayload } from '../core/parse.ts';
import { nativeReadingSchema } from '../core/reading.ts';
import { createSensor } from './define.ts';
import { type Environment, type EnvironmentParamsInput, createEnvironment } from './environment.ts';
import { type ReadingPayload, type SimulatedSensor, type SimulatorDefinition, simRegistration as registration } from './types.ts';

/** What a contract factory receives. */
export interface ContractContext {
  seed: number;
  startMs: number;
  environment: Environment;
}

/** Builds a fresh sensor for a seed, a start and an environment. */
export type SensorFactory = (ctx: ContractContext) => SimulatedSensor;

/** A factory for `def` with `config` (default `{}`), as sensor `contract-1` at site `contract-site`. */
export function sensorFactory(def: SimulatorDefinition, config: Record<string, unknown> = {}): SensorFactory {
  return ({ seed, environment }) =>
    createSensor(def, { id: 'contract-1', hub: environment.hub, site: 'contract-site', seed, config, environment });
}

export interface ContractOptions {
  /** Simulated days of the range check (default 60). */
  days?: number;
  /** Start of the range check, epoch ms (default 2024-01-15T00:00Z: winter into spring). */
  startMs?: number;
  environment?: EnvironmentParamsInput;
  /**
   * An event sensor emits 0..n readings per step at the moments things happened (default: true
   * for biodiversity). A non-event sensor must emit exactly one reading per step, stamped with the
   * step's time, so its timestamps advance by exactly the interval.
   */
  events?: boolean;
}

const HUB = 'contract';
const FAR_FUTURE = Date.UTC(2099, 0, 1);
const encoder = new TextEncoder();

interface Step {
  t: number;
  payloads: ReadingPayload[];
}

/** Runs a fresh sensor from `startMs` for `steps` steps (or until `untilMs`). */
export function runSensor(factory: SensorFactory, seed: number, startMs: number, untilMs: number, envParams?: EnvironmentParamsInput): { sensor: SimulatedSensor; steps: Step[] } {
  const envOpts: Parameters<typeof createEnvironment>[0] = { hub: HUB, seed, startMs };
  if (envParams) envOpts.params = envParams;
  const environment = createEnvironment(envOpts);
  const sensor = factory({ seed, startMs, environment });
  const stepMs = sensor.intervalS * 1000;
  const steps: Step[] = [];
  for (let t = Math.ceil(startMs / stepMs) * stepMs; t <= untilMs; t += stepMs) steps.push({ t, payloads: sensor.next(t) });
  return { sensor, steps };
}

/** Defines the contract suite for one simulator. */
export function runSimulatorContract(name: string, factory: SensorFactory, opts: ContractOptions = {}): void {
  const days = opts.days ?? 60;
  const start = opts.startMs ?? Date.UTC(2024, 0, 15);
  const end = start + days * 86_400_000;

  describe(`simulator contract: ${name}`, () => {
    // One long run shared by the checks that only read it (generated lazily, once).
    let long: { sensor: SimulatedSensor; steps: Step[] } | undefined;
    const longRun = (): { sensor: SimulatedSensor; steps: Step[] } => (long ??= runSensor(factory, 7, start, end, opts.environment));

    it('has a valid kind and domain, and an interval of whole seconds', () => {
      const { sensor } = longRun();
      expect(isId(sensor.kind)).toBe(true);
      expect(['water', 'soil', 'energy', 'biodiversity']).toContain(sensor.domain);
      expect(Number.isInteger(sensor.intervalS) && sensor.intervalS >= 1).toBe(true);
    }, 60_000);

    // The loops below check with plain conditions and fail once with a message: vitest's `expect`
    // costs tens of microseconds a call, too much for hundreds of thousands of readings.
    it(`produces readings that pass the schema and parsePayload, in range, over ${days} simulated days`, () => {
      const { sensor, steps } = longRun();
      const attributeKeys = new Set(Object.keys(ATTRIBUTES));
      let count = 0;
      for (const { payloads } of steps) {
        for (const p of payloads) {
          count++;
          const schema = nativeReadingSchema.safeParse(p);
          if (!schema.success) throw new Error(`schema rejected ${JSON.stringify(p)}: ${schema.error.message}`);
          let readings;
          try {
            readings = parsePayload(encoder.encode(JSON.stringify(p)), { hub: HUB, domain: sensor.domain, sensor: sensor.id, now: FAR_FUTURE, ...registration(p) });
          } catch (err) {
            throw new Error(`parsePayload rejected ${JSON.stringify(p)}: ${(err as Error).message}`, { cause: err });
          }
          if (readings.length !== 1) throw new Error(`one payload gave ${readings.length} readings`);
          for (const [k, v] of Object.entries(p.metrics)) {
            const def = metricDef(k);
            if (!def || def.domain !== sensor.domain) throw new Error(`metric ${k} is not a ${sensor.domain} metric`);
            if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`metric ${k} = ${JSON.stringify(v)} is not a plain finite number`);
          }
          for (const k of Object.keys(p.attributes ?? {})) if (!attributeKeys.has(k)) throw new Error(`attribute ${k} is not in the catalogue`);
        }
      }
      expect(count, 'at least one reading over the run').toBeGreaterThan(0);
    }, 60_000);

    it('numbers seq strictly increasing; timestamps advance by the interval (event sensors: within each step)', () => {
      const { sensor, steps } = longRun();
      const events = opts.events ?? sensor.domain === 'biodiversity';
      let lastSeq = -1;
      let lastTs = -Infinity;
      let prevT: number | undefined;
      const fail = (msg: string, p: ReadingPayload): never => {
        throw new Error(`${msg}: ${JSON.stringify(p)}`);
      };
      for (const { t, payloads } of steps) {
        if (!events && payloads.length !== 1) throw new Error(`step ${t}: ${payloads.length} readings, expected exactly one`);
        for (const p of payloads) {
          if (!events && p.ts !== t) fail(`ts should be the step time ${t}`, p);
          if (!(p.seq > lastSeq)) fail(`seq not above the previous ${lastSeq}`, p);
          if (!(p.ts > lastTs)) fail(`ts not after the previous ${lastTs}`, p);
          if (p.ts > t) fail(`ts after the step time ${t}`, p);
          if (prevT !== undefined && p.ts <= prevT) fail(`ts not after the previous step ${prevT}`, p);
          lastSeq = p.seq;
          lastTs = p.ts;
        }
        prevT = t;
      }
      expect(lastSeq).toBeGreaterThanOrEqual(0);
    }, 60_000);

    it('is deterministic: same seed and start, same readings; another seed, other readings', () => {
      const s = Date.UTC(2024, 5, 1);
      const e = s + 3 * 86_400_000;
      const a = JSON.stringify(runSensor(factory, 11, s, e, opts.environment).steps);
      const b = JSON.stringify(runSensor(factory, 11, s, e, opts.environment).steps);
      const c = JSON.stringify(runSensor(factory, 12, s, e, opts.environment).steps);
      expect(a).toBe(b);
      expect(c).not.toBe(a);
    });

    it('copes with skipped steps (a runner stretching intervals)', () => {
      const s = Date.UTC(2024, 5, 1);
      const environment = createEnvironment({ hub: HUB, seed: 3, startMs: s, ...(opts.environment ? { params: opts.environment } : {}) });
      const sensor = factory({ seed: 3, startMs: s, environment });
      const stepMs = sensor.intervalS * 1000;
      let t = Math.ceil(s / stepMs) * stepMs;
      let lastSeq = -1;
      for (const gap of [1, 7, 1, 30, 2]) {
        t += gap * stepMs;
        for (const p of sensor.next(t)) {
          expect(() =>
            parsePayload(encoder.encode(JSON.stringify(p)), { hub: HUB, domain: sensor.domain, sensor: sensor.id, now: FAR_FUTURE, ...registration(p) }),
          ).not.toThrow();
          expect(p.seq).toBeGreaterThan(lastSeq);
          lastSeq = p.seq;
        }
      }
      expect(() => sensor.next(t)).toThrow(RangeError);
    });
  });
}
