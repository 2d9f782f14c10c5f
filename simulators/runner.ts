/**
 * Running a fleet: `generate` yields readings offline (tests, benchmarks, backfills);
 * `createSimRunner` publishes them over MQTT, each simulated sensor as its own device client.
 *
 * Simulated time (ADR-style note):
 * - The simulated clock runs `speed` times faster than the real one from `startTime`:
 *   `sim = startTime + (real − realStart) × speed`, and it is never allowed past the real clock:
 *   `sim = min(sim, real)`. Ingest rejects readings stamped more than 5 minutes in the future, so
 *   no timestamp we publish is ever later than the real time of publication.
 * - Default `startTime`: at `speed ≤ 1`, now (live). At `speed > 1`, `backfillDays` (30) before
 *   now: the fleet replays the last 30 days fast (at speed 60, a month in 12 hours; at 3600, in
 *   12 minutes), and once the simulated clock catches up with the real one it continues in real
 *   time. Dashboards thus fill with a month of history and then stay live.
 * - Each sensor publishes on its simulated interval, aligned to whole multiples of it (a 5-minute
 *   sensor reads at :00, :05, …). A sensor never publishes more than `maxRatePerSensor` messages
 *   per real second (default 2): when `speed` would exceed that, its interval is stretched by a
 *   whole factor (at speed 3600 a 5-minute sensor reads every 30 simulated minutes). Simulators
 *   report interval quantities (rain, withdrawal) since their previous reading, so no rain or
 *   pumped water is lost by stretching.
 */
import { type IClientOptions, type MqttClient, connect } from 'mqtt';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { Domain } from '../core/ids.ts';
import { statusTopic } from '../core/topics.ts';
import type { EnvironmentParamsInput } from './environment.ts';
import { SimulatorError } from './errors.ts';
import { type FleetEntry, type FleetSensor, type FleetSimulation, createFleetSimulation, validateFleet } from './fleet.ts';
import { getScenario } from './scenarios.ts';
import type { ReadingPayload } from './types.ts';

const DAY_MS = 86_400_000;

/** One reading as it would be published. */
export interface SimMessage {
  hub: string;
  domain: Domain;
  sensor: string;
  kind: string;
  /** `csm/v1/{hub}/{domain}/{sensor}/data`. */
  topic: string;
  payload: ReadingPayload;
}

export interface GenerateOptions {
  /** Hub id (default `demo`). */
  hub?: string;
  scenario?: string;
  scenarioStartMs?: number;
  /** Simulated seconds between readings for every sensor (overrides each simulator's interval). */
  intervalS?: number;
  environment?: EnvironmentParamsInput;
}

/**
 * Yields the readings of `fleet` for simulated times in [fromMs, toMs], in time order (ties in
 * fleet order), without any network. Same arguments, same readings.
 * Throws SimulatorError on an invalid fleet or scenario.
 */
export function* generate(fleet: readonly FleetEntry[], seed: number, fromMs: number, toMs: number, opts: GenerateOptions = {}): Generator<SimMessage> {
  const hub = opts.hub ?? 'demo';
  const simOpts: Parameters<typeof createFleetSimulation>[0] = { hub, fleet, seed, startMs: fromMs };
  if (opts.scenario !== undefined) simOpts.scenario = opts.scenario;
  if (opts.scenarioStartMs !== undefined) simOpts.scenarioStartMs = opts.scenarioStartMs;
  if (opts.intervalS !== undefined) simOpts.intervalS = opts.intervalS;
  if (opts.environment !== undefined) simOpts.environment = opts.environment;
  const sim = createFleetSimulation(simOpts);
  const due = sim.sensors.map((s) => firstDue(fromMs, s.sensor.intervalS * 1000));
  for (;;) {
    let best = -1;
    for (let i = 0; i < due.length; i++) if (best < 0 || (due[i] as number) < (due[best] as number)) best = i;
    if (best < 0 || (due[best] as number) > toMs) return;
    const s = sim.sensors[best] as FleetSensor;
    const t = due[best] as number;
    due[best] = t + s.sensor.intervalS * 1000;
    for (const payload of s.sensor.next(t)) yield message(hub, s, payload);
  }
}

function firstDue(fromMs: number, intervalMs: number): number {
  return Math.ceil(fromMs / intervalMs) * intervalMs;
}

function message(hub: string, s: FleetSensor, payload: ReadingPayload): SimMessage {
  return { hub, domain: s.domain, sensor: s.entry.sensor, kind: s.sensor.kind, topic: s.topic, payload };
}

/** The logging the runner needs (pino's Logger satisfies it). */
export interface SimLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noopLogger: SimLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface DeviceCredentials {
  username: string;
  password: string;
}

export interface SimRunnerOptions {
  /** e.g. `mqtt://127.0.0.1:1883`. */
  brokerUrl: string;
  hub: string;
  fleet: readonly FleetEntry[];
  /** Each device's MQTT credentials; the username should be `{hub}.{sensor}` (it is also the client id). */
  credentials: (entry: FleetEntry) => Promise<DeviceCredentials> | DeviceCredentials;
  seed: number;
  /** Simulated seconds per real second (> 0). */
  speed: number;
  /** Simulated start, epoch ms; must not be in the future. Default: see the module note. */
  startTime?: number;
  /** Days replayed before now when `speed > 1` and no `startTime` is given (default 30). */
  backfillDays?: number;
  /**
   * Warm start: begin this many ms before now and replay that stretch at `warmupSpeed` until
   * simulated time reaches real time, then go on at `speed`. Gives a newcomer hours of history
   * (and every domain, including sparse biodiversity detections) within seconds. Ignored when
   * `startTime` is given. Default 0.
   */
  warmupMs?: number;
  /** Simulated seconds per real second while warming up (default 3600). */
  warmupSpeed?: number;
  /**
   * How long the scenario has already been under way when the run starts, ms (default 0): a
   * drought "30 days in" shows a steadily falling aquifer from the first reading.
   */
  scenarioLeadMs?: number;
  /** Simulated seconds between readings for every sensor (overrides each simulator's interval). */
  intervalS?: number;
  scenario?: string;
  environment?: EnvironmentParamsInput;
  /** Moves the world's seasons (Environment `seasonShiftMs`). */
  seasonShiftMs?: number;
  logger?: SimLogger;
  /** Extra mqtt.js options (e.g. TLS); clientId, username, password, clean and will are the runner's. */
  mqttOptions?: Partial<IClientOptions>;
  /** Real time source (tests inject one). */
  clock?: Clock;
  /** Most messages one sensor publishes per real second (default 2). */
  maxRatePerSensor?: number;
  /** Unacknowledged publishes one sensor may hold before further readings are dropped (default 1000). */
  maxInflightPerSensor?: number;
  /** Real ms between scheduler ticks (default 100). */
  tickMs?: number;
  /** How long `start()` waits for every device to connect, ms (default 10 000). */
  connectTimeoutMs?: number;
  /** How long `stop()` waits for in-flight publishes, ms (default 5 000). */
  stopTimeoutMs?: number;
}

export interface SimRunnerStats {
  /** Publishes handed to the clients. */
  published: number;
  /** Publishes the broker acknowledged (PUBACK). */
  acked: number;
  /** Publishes that failed (client closed or error). */
  failed: number;
  /** Readings not published because a sensor's in-flight queue was full. */
  dropped: number;
  /** Devices currently connected. */
  connected: number;
  /** Simulated now, epoch ms (NaN before start). */
  simTimeMs: number;
  /** Whether the simulated clock has caught up with the real one (it then runs at speed 1). */
  caughtUp: boolean;
  /** Simulated ms per real ms right now: the replay's rate until caught up, then 1 (0 before start). */
  rate: number;
}

export interface SimRunner {
  /** Connects every device (waits up to `connectTimeoutMs`, then carries on reconnecting) and starts publishing. */
  start(): Promise<void>;
  /** Stops the schedule, publishes each device's offline status, waits for in-flight QoS 1 publishes, disconnects. */
  stop(): Promise<void>;
  stats(): SimRunnerStats;
  /** The fleet simulation (environment and sensors), once started. */
  readonly simulation: FleetSimulation | undefined;
}

interface Device {
  fs: FleetSensor;
  client?: MqttClient;
  nextDue: number;
  inflight: number;
  droppedWarned: boolean;
  errorLogged: boolean;
}

const OFFLINE = JSON.stringify({ state: 'offline' });
const ONLINE = JSON.stringify({ state: 'online' });

/**
 * Creates a runner (validates everything, touches no network). Throws SimulatorError
 * (`SIM_ERR_CONFIG`, `SIM_ERR_UNKNOWN_KIND`, `SIM_ERR_UNKNOWN_SCENARIO`, `SIM_ERR_DUPLICATE_SENSOR`).
 */
export function createSimRunner(opts: SimRunnerOptions): SimRunner {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? noopLogger;
  if (!(opts.speed > 0) || !Number.isFinite(opts.speed)) throw new SimulatorError('SIM_ERR_CONFIG', `speed must be a positive number, got ${opts.speed}`);
  if (opts.startTime !== undefined && opts.startTime > clock.now()) {
    throw new SimulatorError('SIM_ERR_CONFIG', `startTime ${new Date(opts.startTime).toISOString()} is in the future: ingest would reject the readings`);
  }
  if (opts.intervalS !== undefined && !(opts.intervalS >= 1 && opts.intervalS <= 86_400)) {
    throw new SimulatorError('SIM_ERR_CONFIG', `intervalS must be 1..86400 simulated seconds, got ${opts.intervalS}`);
  }
  if (opts.scenario !== undefined) getScenario(opts.scenario);
  validateFleet(opts.hub, opts.fleet);
  const maxRate = opts.maxRatePerSensor ?? 2;
  const maxInflight = opts.maxInflightPerSensor ?? 1000;
  const tickMs = opts.tickMs ?? 100;
  const stats = { published: 0, acked: 0, failed: 0, dropped: 0 };

  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  let simulation: FleetSimulation | undefined;
  let devices: Device[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let realStart = 0;
  let simStart = 0;

  const warmup = opts.startTime === undefined && (opts.warmupMs ?? 0) > 0;
  // While warming up the clock runs at the warm-up rate; min(real, …) then holds it at real time.
  const rate = warmup ? Math.max(opts.speed, opts.warmupSpeed ?? 3600) : opts.speed;
  const simNow = (): number => {
    const real = clock.now();
    return Math.min(real, simStart + (real - realStart) * rate);
  };
  const caughtUp = (): boolean => {
    const real = clock.now();
    return simStart + (real - realStart) * rate >= real;
  };

  function publish(d: Device, payload: ReadingPayload): void {
    const client = d.client;
    if (!client || d.inflight >= maxInflight) {
      stats.dropped++;
      if (!d.droppedWarned) {
        d.droppedWarned = true;
        log.warn({ sensor: d.fs.entry.sensor, inflight: d.inflight }, 'sensor backlog full: dropping readings until the broker catches up');
      }
      return;
    }
    d.inflight++;
    stats.published++;
    client.publish(d.fs.topic, JSON.stringify(payload), { qos: 1 }, (err) => {
      d.inflight--;
      if (err) {
        stats.failed++;
        log.debug({ sensor: d.fs.entry.sensor, err: err.message }, 'publish failed');
      } else {
        stats.acked++;
        if (d.inflight < maxInflight / 2) d.droppedWarned = false;
      }
    });
  }

  function tick(): void {
    const now = simNow();
    const speed = caughtUp() ? 1 : rate;
    for (const d of devices) {
      const intervalMs = d.fs.sensor.intervalS * 1000;
      // Stretch the interval by a whole factor so that one sensor stays under maxRate real messages/s.
      const stretch = Math.max(1, Math.ceil((speed * 1000) / maxRate / intervalMs));
      // A due time set while the clock ran fast may lie far ahead once it has slowed to real time.
      if (d.nextDue - now > stretch * intervalMs) d.nextDue = Math.floor(now / intervalMs) * intervalMs + intervalMs;
      if (d.nextDue > now) continue;
      let due = d.nextDue;
      if (now - due > stretch * intervalMs) due = Math.floor(now / intervalMs) * intervalMs; // fell behind: skip ahead
      d.nextDue = due + stretch * intervalMs;
      let payloads: ReadingPayload[];
      try {
        payloads = d.fs.sensor.next(due);
      } catch (err) {
        log.error({ sensor: d.fs.entry.sensor, err: (err as Error).message }, 'simulator failed');
        continue;
      }
      for (const p of payloads) publish(d, p);
    }
  }

  async function connectDevice(d: Device): Promise<void> {
    const creds = await opts.credentials(d.fs.entry);
    const address = { hub: opts.hub, domain: d.fs.domain, sensor: d.fs.entry.sensor };
    const status = statusTopic(address);
    const client = connect(opts.brokerUrl, {
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      ...opts.mqttOptions,
      clientId: creds.username,
      username: creds.username,
      password: creds.password,
      clean: true,
      will: { topic: status, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    });
    d.client = client;
    client.on('connect', () => {
      d.errorLogged = false;
      client.publish(status, ONLINE, { qos: 1, retain: true });
      log.debug({ sensor: d.fs.entry.sensor }, 'device connected');
    });
    client.on('error', (err) => {
      if (!d.errorLogged) {
        d.errorLogged = true;
        log.warn({ sensor: d.fs.entry.sensor, err: err.message }, 'device connection error (retrying)');
      }
    });
    await new Promise<void>((resolve) => {
      if (client.connected) return resolve();
      const done = (): void => {
        clearTimeout(t);
        client.off('connect', done);
        resolve();
      };
      const t = setTimeout(done, opts.connectTimeoutMs ?? 10_000);
      client.on('connect', done);
    });
  }

  return {
    get simulation() {
      return simulation;
    },

    async start() {
      if (state !== 'new') throw new SimulatorError('SIM_ERR_STATE', `start() called on a runner that is ${state}`);
      state = 'running';
      realStart = clock.now();
      simStart = opts.startTime ?? (warmup ? realStart - (opts.warmupMs ?? 0) : opts.speed > 1 ? realStart - (opts.backfillDays ?? 30) * DAY_MS : realStart);
      const simOpts: Parameters<typeof createFleetSimulation>[0] = { hub: opts.hub, fleet: opts.fleet, seed: opts.seed, startMs: simStart };
      if (opts.scenario !== undefined) simOpts.scenario = opts.scenario;
      if (opts.scenario !== undefined && opts.scenarioLeadMs) simOpts.scenarioStartMs = simStart - opts.scenarioLeadMs;
      if (opts.intervalS !== undefined) simOpts.intervalS = opts.intervalS;
      if (opts.environment !== undefined) simOpts.environment = opts.environment;
      if (opts.seasonShiftMs !== undefined) simOpts.seasonShiftMs = opts.seasonShiftMs;
      simulation = createFleetSimulation(simOpts);
      devices = simulation.sensors.map((fs) => ({ fs, nextDue: firstDue(simStart, fs.sensor.intervalS * 1000), inflight: 0, droppedWarned: false, errorLogged: false }));
      await Promise.all(devices.map((d) => connectDevice(d)));
      const up = devices.filter((d) => d.client?.connected).length;
      if (up < devices.length) {
        log.warn({ connected: up, devices: devices.length }, 'not every simulated device connected in time; they keep retrying');
      }
      // The real clock restarts here so that connecting does not count as simulated time.
      realStart = clock.now();
      if (state !== 'running') return; // stopped while connecting
      log.info(
        { hub: opts.hub, sensors: devices.length, speed: opts.speed, simStart: new Date(simStart).toISOString(), scenario: opts.scenario ?? 'normal' },
        'simulator running',
      );
      timer = setInterval(tick, tickMs);
      tick();
    },

    async stop() {
      if (state === 'stopped' || state === 'stopping') return;
      state = 'stopping';
      if (timer) clearInterval(timer);
      timer = undefined;
      const timeoutMs = opts.stopTimeoutMs ?? 5000;
      await Promise.all(
        devices.map(async (d) => {
          const client = d.client;
          if (!client) return;
          if (client.connected) {
            d.inflight++;
            client.publish(statusTopic({ hub: opts.hub, domain: d.fs.domain, sensor: d.fs.entry.sensor }), OFFLINE, { qos: 1, retain: true }, () => {
              d.inflight--;
            });
          }
          const deadline = clock.now() + timeoutMs;
          while (d.inflight > 0 && client.connected && clock.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          const graceful = d.inflight === 0 || !client.connected;
          await Promise.race([client.endAsync(!graceful), new Promise((r) => setTimeout(r, timeoutMs))]);
          if (!client.disconnected) client.end(true);
        }),
      );
      state = 'stopped';
      log.info({ ...stats }, 'simulator stopped');
    },

    stats() {
      return {
        ...stats,
        connected: devices.filter((d) => d.client?.connected).length,
        simTimeMs: state === 'new' ? Number.NaN : simNow(),
        caughtUp: state === 'new' ? false : caughtUp(),
        rate: state === 'new' ? 0 : caughtUp() ? 1 : rate,
      };
    },
  };
}
