/**
 * The pipeline benchmark: N registered devices publishing at QoS 1, in one run through three
 * systems on the same machine, each measured the same way:
 *
 * - `relay`: the bare Aedes relay (Steward's broker without the intake: authentication and ACLs,
 *   no spool) and one trivial QoS 1 subscriber (bench/roles/broker.ts + sink.ts);
 * - `node`: one Steward node process wired as `steward broker` runs it (bench/roles/node.ts:
 *   `startBrokerRole`, i.e. Aedes with the durable intake in its publish path, which validates and
 *   group-commits each reading to the SQLite spool before the device's PUBACK, and the forwarder:
 *   spool -> privacy -> InfluxDB 1.6);
 * - `peer`: Mosquitto (queue raised) + Node-RED + node-red-contrib-influxdb into the same
 *   InfluxDB (bench/lib/peer.ts, flow in bench/peer/flows.json; Node-RED installed with npm into
 *   ~/.cache/steward-bench, outside the repository).
 *
 *   node --import tsx bench/pipeline.ts --sensors 200 --duration 30
 *
 * Phases, in order (see --help):
 *   relay-max      closed loop through the bare relay: the bare relay rate
 *   node-max       closed loop through the node: its committed capacity C
 *   node@1.5C …    open loop at multiples of C (--overload): carried rate, loss, p99
 *   node@R         open loop at fixed rates (--node-rates)
 *   peer@r         open loop at each --peer-rates rate, up the list until a rate loses readings:
 *                  the peer's zero-loss ceiling
 *
 * Every acknowledged reading is looked for in InfluxDB per sensor (count of `seq` over the
 * phase's timestamps against the PUBACKs each device got: *missing* must be 0). Latency is
 * publish -> stored for every reading (Steward: when its store's batch write resolved; peer: when
 * InfluxDB answered Node-RED's write, seen by a proxy). CPU seconds and peak RSS per process from
 * /proc. Results go to bench/results/pipeline-<time>/ (result.json, summary.md, logs, profiles).
 * See bench/README.md.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join, relative } from 'node:path';
import { startInfluxDB, stopAll, type InfluxHandle } from '../tests/harness/services.ts';
import { BENCH_HUB, DOMAINS, registerFleet } from './lib/fleet.ts';
import type { LatencySummary } from './lib/histogram.ts';
import { DEFAULT_PEER_CACHE, ensureNodeRed, peerVersions, startPeer, type Peer } from './lib/peer.ts';
import { loadAverage, machineInfo, nodeFlagsUnderTest, procStats, REPO as repo, round1, RoleProcess, startBenchRun, type ProcStats, type RoleMessage } from './lib/proc.ts';
import { benchArgs, ROLES_FROM_HELP, ROLES_FROM_OPTION } from './lib/args.ts';
import { summarise } from './profile-summary.ts';

const HELP = `Usage: node --import tsx bench/pipeline.ts [options]

  --systems LIST           relay,node,peer (default: all three, in that order)
  --sensors N              simulated devices, each its own MQTT client (default 200)
  --duration D             seconds of each closed-loop and overload phase (default 30)
  --overload M1,M2,…       open-loop phases at these multiples of the node's closed-loop
                           committed rate, or "none" (default 1.5,2)
  --node-rates R1,…        extra open-loop node phases at fixed rates (default none)
  --peer-rates r1,r2,…     open-loop peer phases, in order, stopping after the first that loses
                           readings (default 2500,5000,7500,10000,15000,20000,25000,30000)
  --peer-duration S        seconds of each peer phase (default: --duration)
  --peer-max-queued Q      Mosquitto max_queued_messages (default 1000000: "queue raised")
  --peer-max-inflight I    Mosquitto max_inflight_messages (default 1000)
  --peer-cache DIR         where Node-RED is installed with npm (default ${DEFAULT_PEER_CACHE})
  --window W               readings in flight in total in the closed-loop phases (default 20000:
                           100 per device of 200; with fewer the window, not the system, limits)
  --max-inflight K         per-device PUBACKs outstanding before a due reading is skipped in an
                           open-loop phase (default: 2 s of one device's readings at that
                           phase's rate, at least 16)
  --drain-s S              longest wait after publishing for everything acked to be stored
                           (default 180)
  --hash-batch B           registrations hashed in parallel (default 32)
  --registry-cache DIR     keep the registered fleet (registry.db and its generated passwords,
                           mode 0600) in DIR and reuse it when N matches
  --batch-size B           ingest.batchSize of the node (default: the config default)
  --flush-ms MS            ingest.flushIntervalMs of the node (default: the config default)
  --profile ROLES          node: a V8 CPU profile of the node during node-max, summarised in
                           summary.md; broker, load, sink: those processes under --cpu-prof;
                           profiles in <results>/<role>-profile/
  --out DIR                results root (default bench/results)
${ROLES_FROM_HELP}
  -h, --help
`;

const { opt, num, words, fail, rolesFrom } = benchArgs(HELP, {
  ...ROLES_FROM_OPTION,
  systems: { type: 'string', default: 'relay,node,peer' },
  sensors: { type: 'string', default: '200' },
  duration: { type: 'string', default: '30' },
  overload: { type: 'string', default: '1.5,2' },
  'node-rates': { type: 'string', default: '' },
  'peer-rates': { type: 'string', default: '2500,5000,7500,10000,15000,20000,25000,30000' },
  'peer-duration': { type: 'string' },
  'peer-max-queued': { type: 'string', default: '1000000' },
  'peer-max-inflight': { type: 'string', default: '1000' },
  'peer-cache': { type: 'string', default: DEFAULT_PEER_CACHE },
  'max-inflight': { type: 'string' },
  window: { type: 'string', default: '20000' },
  'drain-s': { type: 'string', default: '180' },
  'hash-batch': { type: 'string', default: '32' },
  'registry-cache': { type: 'string' },
  'batch-size': { type: 'string' },
  'flush-ms': { type: 'string' },
  profile: { type: 'string', default: '' },
  out: { type: 'string' },
});
const list = (name: string, v: string | undefined): number[] => (v === 'none' || !v ? [] : v.split(',').map((x) => num(name, x)));
const SYSTEMS = words('systems', 'system', opt.systems, ['relay', 'node', 'peer']);
const N = num('sensors', opt.sensors);
const DURATION = num('duration', opt.duration);
const OVERLOAD = list('overload', opt.overload);
const NODE_RATES = list('node-rates', opt['node-rates']);
const PEER_RATES = list('peer-rates', opt['peer-rates']);
const PEER_S = opt['peer-duration'] !== undefined ? num('peer-duration', opt['peer-duration']) : DURATION;
const DRAIN_MS = num('drain-s', opt['drain-s']) * 1000;
const WINDOW = num('window', opt.window);
const PROFILE = new Set((opt.profile ?? '').split(',').filter(Boolean));
if (N < 1 || DURATION <= 0) fail('--sensors and --duration must be positive');
/** Per-device PUBACKs outstanding in an open-loop phase at `rate`: 2 s of one device's readings. */
const maxInflightAt = (rate: number): number => (opt['max-inflight'] !== undefined ? num('max-inflight', opt['max-inflight']) : Math.max(16, Math.ceil((2 * rate) / N)));

// The run: results and temp dirs; every role, the peer, influxd and the temp dir go on success,
// error or Ctrl-C.
let peer: Peer | undefined;
const run = startBenchRun({
  name: 'pipeline',
  rolesFrom: rolesFrom(opt['roles-from']),
  out: opt.out,
  tmpPrefix: 'steward-bench-',
  onCleanup: async () => {
    clearInterval(sampler);
    await peer?.stop().catch(() => undefined);
    await stopAll();
  },
  onForceExit: () => peer?.nodeRed.kill('SIGKILL'),
});
const { outDir, tmp, log, watch, finish } = run;
const profileFlags = (role: string): string[] => (PROFILE.has(role) ? ['--cpu-prof', '--cpu-prof-dir', join(outDir, `${role}-profile`)] : []);
/** The node's data directory: registry.db (also read by the relay), spool, dead letters. */
const nodeDir = join(tmp, 'node');
let influx: InfluxHandle | undefined;

// ------------------------------------------------------------------------------------------------
// Process figures

interface Tracked {
  role: string;
  pid: number;
  /** Latest sample (peak RSS is VmHWM, so the latest sample holds the peak so far). */
  last?: ProcStats;
}
/** Keyed by role name; a system's processes are tracked while it runs ("load" is per system). */
const tracked = new Map<string, Tracked>();
/** Last figures of processes no longer tracked, keyed `system/role`. */
const finished: Record<string, ProcStats> = {};
function track(role: string, pid: number): void {
  tracked.set(role, { role, pid, last: procStats(pid) });
}
function untrack(system: string, role: string): void {
  const t = tracked.get(role);
  if (!t) return;
  const s = procStats(t.pid) ?? t.last;
  if (s) finished[`${system}/${role}`] = s;
  tracked.delete(role);
}
/** Figures of the tracked processes still running (the last sample of each is kept for the end). */
function sample(): Record<string, ProcStats> {
  const out: Record<string, ProcStats> = {};
  for (const t of tracked.values()) {
    const s = procStats(t.pid);
    if (!s) continue;
    t.last = s;
    out[t.role] = s;
  }
  return out;
}
const sampler = setInterval(sample, 1000);
sampler.unref();

function cpuDelta(a: Record<string, ProcStats>, b: Record<string, ProcStats>, wallS: number, msgs: number): Record<string, { cpuS: number; cores: number; usPerMsg: number }> {
  const out: Record<string, { cpuS: number; cores: number; usPerMsg: number }> = {};
  for (const [role, s] of Object.entries(b)) {
    const s0 = a[role];
    if (!s0) continue;
    const cpuS = Math.round((s.cpuS - s0.cpuS) * 100) / 100;
    out[role] = { cpuS, cores: Math.round((cpuS / wallS) * 100) / 100, usPerMsg: msgs > 0 ? Math.round((cpuS * 1e6) / msgs) : NaN };
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Phases

interface LoadDone extends RoleMessage {
  phase: string;
  rate: number;
  startedAt: number;
  endedAt: number;
  publishMs: number;
  drainMs: number;
  offered: number;
  sent: number;
  acked: number;
  skipped: number;
  errors: number;
  unacked: number;
  reconnects: number;
  tsMin: number;
  tsMax: number;
  puback: Record<string, number>;
  perSensor: Array<[string, number]>;
}

type SystemName = 'relay' | 'node' | 'peer';

interface PhaseResult {
  phase: string;
  system: SystemName;
  /** Offered readings/s (0 = closed loop). */
  offeredRate: number;
  durationS: number;
  maxInflight?: number;
  offered: number;
  acked: number;
  skipped: number;
  errors: number;
  reconnects: number;
  /** PUBACKed readings per second of publishing. */
  ackedRate: number;
  /** Relay: messages the sink received; node: readings the intake committed; peer: points stored. */
  delivered: number;
  /** Slope of the delivered (relay) or stored (node, peer) counter over the steady window, per second. */
  steadyRate: number;
  /** Node, peer: readings counted in InfluxDB by a query; their rate over first publish -> last commit. */
  influxCount?: number;
  committedRate?: number;
  /** Node, peer: acked readings missing from InfluxDB, summed per sensor (must be 0). */
  missing?: number;
  /** Sensors with at least one acked reading missing. */
  sensorsMissing?: number;
  /** Node, peer: ms from the end of publishing until everything acked was stored. */
  drainMs?: number;
  /** Node, peer: true when the drain wait gave up (storage still behind). */
  drainTimedOut?: boolean;
  /** Node: largest spool depth seen. */
  maxSpool?: number;
  latency: LatencySummary | Record<string, never>;
  puback: Record<string, number>;
  /** The delivered or stored counter over the phase: [seconds since start, count]. */
  series: Array<[number, number]>;
  cpu: Record<string, { cpuS: number; cores: number; usPerMsg: number }>;
  load1: number;
}

/** What the load generator counted in a phase, as every phase result reports it. */
function loadCounts(done: LoadDone): Pick<LoadDone, 'offered' | 'acked' | 'skipped' | 'errors' | 'reconnects'> & { ackedRate: number } {
  const { offered, acked, skipped, errors, reconnects } = done;
  return { offered, acked, skipped, errors, reconnects, ackedRate: Math.round(acked / (done.publishMs / 1000)) };
}

/**
 * Slope (per second) of a counter between `from` and `to` (epoch ms): from the first sample at or
 * after `from` to the last at or before `to`; `fallback` when fewer than two samples fall inside.
 */
function slope(samples: Array<{ t: number; v: number }>, from: number, to: number, fallback: number): number {
  const w = samples.filter((s) => s.t >= from && s.t <= to);
  if (w.length < 2) return fallback;
  const a = w[0]!;
  const b = w[w.length - 1]!;
  return Math.round(((b.v - a.v) * 1000) / (b.t - a.t));
}

function series(samples: Array<{ t: number; v: number }>, t0: number, v0: number): Array<[number, number]> {
  return samples.filter((x) => x.t >= t0).map((x) => [Math.round((x.t - t0) / 100) / 10, x.v - v0]);
}

async function runLoad(load: RoleProcess, phase: string, rate: number, durationS: number, maxInflight?: number): Promise<LoadDone> {
  log(`${phase}: ${rate > 0 ? `${rate} readings/s offered (a device holds at most ${String(maxInflight)} unacknowledged)` : `closed loop, ${WINDOW} in flight`} for ${durationS} s`);
  const tty = process.stdout.isTTY;
  const stopProgress = load.onMessage((m) => {
    if (tty && m.type === 'progress' && m.phase === phase) process.stdout.write(`  ${phase} sent ${String(m.sent)} acked ${String(m.acked)} skipped ${String(m.skipped)} inflight ${String(m.inflight)}\r`);
  });
  try {
    return (await load.request('run', { phase, rate, durationS, window: WINDOW, ...(maxInflight !== undefined ? { maxInflight } : {}) }, (durationS + 180) * 1000)) as LoadDone;
  } finally {
    stopProgress();
    if (tty) process.stdout.write('\n');
  }
}

async function relayPhase(load: RoleProcess, sink: RoleProcess, phase: string, rate: number, durationS: number): Promise<PhaseResult> {
  const samples: Array<{ t: number; v: number }> = [];
  const off = sink.onMessage((m) => m.type === 'stats' && samples.push({ t: Number(m.t), v: Number(m.received) }));
  const s0 = Number((await sink.request('stats')).received);
  await sink.request('latency'); // reset
  const cpu0 = sample();
  const load1 = loadAverage().load1;
  const done = await runLoad(load, phase, rate, durationS, rate > 0 ? maxInflightAt(rate) : undefined);
  // Deliveries trail PUBACKs slightly: wait until the sink has them all (or stops counting).
  let received = s0;
  for (let i = 0, prev = -1; i < 100; i++) {
    received = Number((await sink.request('stats')).received);
    if (received - s0 >= done.acked || received === prev) break;
    prev = received;
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpu1 = sample();
  off();
  const lat = await sink.request('latency');
  const wallS = (Date.now() - done.startedAt) / 1000;
  return {
    phase,
    system: 'relay',
    offeredRate: rate,
    durationS,
    ...loadCounts(done),
    delivered: received - s0,
    steadyRate: slope(samples, done.startedAt + durationS * 200, done.endedAt, Math.round((received - s0) / wallS)),
    latency: lat.publishToDelivered as LatencySummary,
    puback: done.puback,
    series: series(samples, done.startedAt, s0),
    cpu: cpuDelta(cpu0, cpu1, wallS, done.acked),
    load1,
  };
}

/** What a system that stores readings reports (the node role, or the peer's write proxy). */
interface Committer {
  system: 'node' | 'peer';
  stats(): Promise<{ t: number; accepted?: number; stored: number; refused: number; spool?: number }>;
  takeLatency(): Promise<LatencySummary>;
  /** False once the system is gone (the phase then counts what InfluxDB holds). */
  alive(): boolean;
}

function nodeCommitter(node: RoleProcess): Committer {
  return {
    system: 'node',
    stats: async () => {
      const s = await node.request('stats');
      return { t: Number(s.t), accepted: Number(s.accepted), stored: Number(s.stored), refused: Number(s.refused), spool: Number(s.spool) };
    },
    takeLatency: async () => (await node.request('latency')).publishToStored as LatencySummary,
    alive: () => node.running,
  };
}

function peerCommitter(p: Peer): Committer {
  return {
    system: 'peer',
    stats: () => Promise.resolve({ t: Date.now(), stored: p.proxy.stored, refused: 0 }),
    takeLatency: () => Promise.resolve(p.proxy.takeLatency()),
    alive: () => p.nodeRed.exitCode === null && p.nodeRed.signalCode === null,
  };
}

/** Acked readings of the phase found in InfluxDB, per sensor. */
async function countInInflux(done: LoadDone): Promise<{ influxCount: number; missing: number; sensorsMissing: number }> {
  const measurements = DOMAINS.map((d) => `"${d}"`).join(',');
  const rows = await influx!.queryRows(`SELECT count("seq") AS n FROM ${measurements} WHERE "hub" = '${BENCH_HUB}' AND time >= ${done.tsMin}ms AND time <= ${done.tsMax}ms GROUP BY "sensor"`);
  const inDb = new Map<string, number>();
  for (const r of rows) inDb.set(String(r.sensor), (inDb.get(String(r.sensor)) ?? 0) + Number(r.n));
  let influxCount = 0;
  for (const v of inDb.values()) influxCount += v;
  let missing = 0;
  let sensorsMissing = 0;
  for (const [sensor, acked] of done.perSensor) {
    const m = Math.max(0, acked - (inDb.get(sensor) ?? 0));
    missing += m;
    if (m > 0) sensorsMissing++;
  }
  return { influxCount, missing, sensorsMissing };
}

async function committedPhase(load: RoleProcess, c: Committer, phase: string, rate: number, durationS: number): Promise<PhaseResult> {
  const stored: Array<{ t: number; v: number }> = [];
  let maxSpool = 0;
  const s0 = await c.stats();
  await c.takeLatency(); // reset
  const poll = setInterval(() => {
    if (!c.alive()) return;
    void c.stats().then(
      (s) => {
        stored.push({ t: s.t, v: s.stored });
        if (s.spool !== undefined) maxSpool = Math.max(maxSpool, s.spool);
      },
      () => undefined,
    );
  }, 1000);
  const cpu0 = sample();
  const load1 = loadAverage().load1;
  const maxInflight = rate > 0 ? maxInflightAt(rate) : undefined;
  let done: LoadDone;
  try {
    done = await runLoad(load, phase, rate, durationS, maxInflight);
  } catch (e) {
    clearInterval(poll);
    throw e;
  }
  // Drain: everything acked stored (node: the intake took it, the spool is empty and the
  // forwarder stored it; peer: as many points written as readings acked, or no progress for 15 s).
  let s = s0;
  const until = Date.now() + DRAIN_MS;
  let lastChange = Date.now();
  let prevStored = -1;
  let timedOut = false;
  for (;;) {
    if (!c.alive()) break;
    s = await c.stats();
    if (s.spool !== undefined) maxSpool = Math.max(maxSpool, s.spool);
    if (s.stored !== prevStored) {
      prevStored = s.stored;
      lastChange = Date.now();
    }
    const settled = s.stored + s.refused - s0.stored - s0.refused;
    if (c.system === 'node') {
      const accepted = (s.accepted ?? 0) - (s0.accepted ?? 0);
      if (accepted >= done.acked && s.spool === 0 && settled >= accepted) break;
    } else if (settled >= done.acked || Date.now() - lastChange > 15_000) break;
    if (Date.now() > until) {
      timedOut = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(poll);
  // When the peer stopped making progress, its last write is the end of the phase.
  const drainedAt = c.system === 'peer' && s.stored + s.refused - s0.stored - s0.refused < done.acked ? lastChange : s.t;
  const cpu1 = sample();
  const latency = c.alive() ? await c.takeLatency() : ({} as Record<string, never>);
  const counted = await countInInflux(done);
  const wallS = (drainedAt - done.startedAt) / 1000;
  return {
    phase,
    system: c.system,
    offeredRate: rate,
    durationS,
    ...(maxInflight !== undefined ? { maxInflight } : {}),
    ...loadCounts(done),
    delivered: c.system === 'node' ? (s.accepted ?? 0) - (s0.accepted ?? 0) : s.stored - s0.stored,
    steadyRate: slope(stored, done.startedAt + durationS * 200, done.endedAt, Math.round((s.stored - s0.stored) / wallS)),
    ...counted,
    committedRate: Math.round(counted.influxCount / wallS),
    drainMs: Math.max(0, drainedAt - done.endedAt),
    drainTimedOut: timedOut,
    ...(c.system === 'node' ? { maxSpool } : {}),
    latency,
    puback: done.puback,
    series: series(stored, done.startedAt, s0.stored),
    cpu: cpuDelta(cpu0, cpu1, wallS, done.acked),
    load1,
  };
}

// ------------------------------------------------------------------------------------------------
// Main

function machine(): Record<string, unknown> {
  let influxVersion = 'unknown';
  try {
    influxVersion = execFileSync('influxd', ['version'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin` } }).trim();
  } catch {
    // reported as unknown
  }
  return { ...machineInfo(), memFreeGiB: round1(freemem() / 2 ** 30), influxd: influxVersion };
}

/** Registers the fleet and the sink's account, or reuses the cached ones. */
function registerBenchFleet(dir: string): ReturnType<typeof registerFleet<{ sinkPw: string }>> {
  return registerFleet({
    dir,
    n: N,
    batch: Math.max(1, num('hash-batch', opt['hash-batch'])),
    cache: opt['registry-cache'],
    noun: 'sensors',
    log,
    extra: async (registry) => ({ sinkPw: (await registry.addAccount({ name: 'sink', role: 'service' })).password }),
    extraKeys: ['sinkPw'],
  });
}

/** Spawns the load generator against `url` and waits until every device is connected. */
async function startLoad(system: SystemName, url: string, credFile: string): Promise<{ load: RoleProcess; connect: Record<string, number> }> {
  const load = watch(RoleProcess.spawn('load', { args: ['--broker-url', url, '--credentials', credFile, '--max-inflight', '16'], nodeFlags: profileFlags('load'), logFile: join(outDir, `${system}-load.log`) }));
  track('load', load.pid);
  const off = load.onMessage((m) => m.type === 'connecting' && log(`  connecting: ${String(m.connected)}/${String(m.total)} after ${String(m.elapsedMs)} ms`));
  const ready = await load.waitFor((m) => m.type === 'ready', N * 200 + 120_000, 'ready');
  off();
  const connect = { devices: N, connectMs: Number(ready.connectMs), perSecond: Number(ready.perSecond), failed: Number(ready.failed) };
  log(`${system}: connected ${N - connect.failed}/${N} devices in ${connect.connectMs} ms (${connect.perSecond}/s)`);
  return { load, connect };
}

const fmtLat = (l: LatencySummary | Record<string, never>): string => ('p50' in l ? `${l.p50} / ${l.p99}` : '–');

async function main(): Promise<void> {
  const started = Date.now();
  const info = machine();
  log(`bench: ${N} sensors; systems ${[...SYSTEMS].join(',')}; ${DURATION} s per phase; results in ${relative(process.cwd(), outDir) || outDir}`);
  log(`machine: ${String(info.nproc)} cores (${String(info.cpuModel)}), ${String(info.memTotalGiB)} GiB, Node ${process.version}, ${String(info.influxd)}, load ${JSON.stringify(info.loadAtStart)}`);

  const { secrets, registration } = await registerBenchFleet(nodeDir);
  const credFile = join(tmp, 'credentials.json');
  writeFileSync(credFile, JSON.stringify(secrets.creds), { mode: 0o600 });

  influx = await startInfluxDB({ database: 'bench' });
  const influxPid = influx.pid;
  if (influxPid) track('influxd', influxPid);
  log(`InfluxDB at ${influx.url} (pid ${String(influxPid)})`);

  const phases: PhaseResult[] = [];
  const connects: Record<string, Record<string, number>> = {};
  const report = (p: PhaseResult): void => {
    phases.push(p);
    const extra =
      p.system === 'relay'
        ? `, sink received ${p.delivered}; delivered p50/p99 ${fmtLat(p.latency)} ms`
        : `, InfluxDB ${String(p.influxCount)} (${String(p.committedRate)}/s, missing ${String(p.missing)}), drain ${String(p.drainMs)} ms${p.maxSpool !== undefined ? `, max spool ${p.maxSpool}` : ''}; stored p50/p99 ${fmtLat(p.latency)} ms`;
    log(`${p.phase}: acked ${p.acked}/${p.offered} (${p.ackedRate}/s, skipped ${p.skipped}), steady ${p.steadyRate}/s${extra}`);
  };
  const logFile = (role: string): string => join(outDir, `${role}.log`);
  let profiles: Record<string, string> = {};

  // --- the bare relay ---------------------------------------------------------------------------
  if (SYSTEMS.has('relay')) {
    const broker = watch(RoleProcess.spawn('broker', { args: ['--registry-dir', nodeDir, '--max-connections', String(N + 100)], nodeFlags: profileFlags('broker'), logFile: logFile('relay-broker') }));
    const ready = await broker.waitFor((m) => m.type === 'ready', 60_000, 'ready');
    const url = `mqtt://127.0.0.1:${String((ready.ports as { mqtt: number }).mqtt)}`;
    track('broker', broker.pid);
    log(`relay: bare broker at ${url} (pid ${broker.pid})`);
    const sink = watch(RoleProcess.spawn('sink', { args: ['--broker-url', url], nodeFlags: profileFlags('sink'), logFile: logFile('relay-sink'), env: { ...process.env, BENCH_SINK_PASSWORD: secrets.sinkPw } }));
    await sink.waitFor((m) => m.type === 'ready', 60_000, 'ready');
    track('sink', sink.pid);
    const { load, connect } = await startLoad('relay', url, credFile);
    connects.relay = connect;
    report(await relayPhase(load, sink, 'relay-max', 0, DURATION));
    await load.stop();
    untrack('relay', 'load');
    await sink.stop();
    untrack('relay', 'sink');
    untrack('relay', 'broker');
    await broker.stop();
  }

  // --- the Steward node --------------------------------------------------------------------------
  let capacity: number | undefined;
  if (SYSTEMS.has('node')) {
    const node = watch(
      RoleProcess.spawn('node', {
        args: [
          '--data-dir', nodeDir,
          '--influx-url', influx.url,
          '--database', 'bench',
          '--max-connections', String(N + 100),
          ...(opt['batch-size'] ? ['--batch-size', opt['batch-size']] : []),
          ...(opt['flush-ms'] ? ['--flush-ms', opt['flush-ms']] : []),
        ],
        // Profiled through the inspector for the node-max phase only (see below); BENCH_NODE_FLAGS,
        // e.g. --cpu-prof for every thread over the whole run.
        nodeFlags: nodeFlagsUnderTest(),
        logFile: logFile('node'),
      }),
    );
    const ready = await node.waitFor((m) => m.type === 'ready', 60_000, 'ready');
    const url = `mqtt://127.0.0.1:${String((ready.ports as { mqtt: number }).mqtt)}`;
    track('node', node.pid);
    log(`node: steward broker (intake + forwarder into InfluxDB) at ${url} (pid ${node.pid})`);
    const { load, connect } = await startLoad('node', url, credFile);
    connects.node = connect;
    const c = nodeCommitter(node);
    // --profile node: a CPU profile of the closed-loop phase only (not of start-up and connects).
    const profileNode = PROFILE.has('node');
    if (profileNode) await node.request('profile-start');
    const max = await committedPhase(load, c, 'node-max', 0, DURATION);
    if (profileNode) {
      mkdirSync(join(outDir, 'node-profile'), { recursive: true });
      await node.request('profile-stop', { file: join(outDir, 'node-profile', 'node-max.cpuprofile') }, 120_000);
    }
    report(max);
    capacity = max.committedRate;
    for (const m of OVERLOAD) {
      const rate = Math.round((capacity ?? 0) * m);
      if (rate > 0) report(await committedPhase(load, c, `node@${m}C`, rate, DURATION));
    }
    for (const r of NODE_RATES) report(await committedPhase(load, c, `node@${r}`, r, DURATION));
    await load.stop();
    untrack('node', 'load');
    untrack('node', 'node');
    await node.stop(30_000);
    if (PROFILE.has('node')) profiles = { ...profiles, node: profileMarkdown(join(outDir, 'node-profile')) };
  }

  // --- the peer: Mosquitto + Node-RED -----------------------------------------------------------
  let peerInfo: Record<string, unknown> | undefined;
  if (SYSTEMS.has('peer')) {
    const cache = opt['peer-cache'] ?? DEFAULT_PEER_CACHE;
    try {
      const redJs = ensureNodeRed(cache, log);
      peer = await startPeer({ redJs, influxUrl: influx.url, database: 'bench', creds: secrets.creds, dir: join(tmp, 'peer'), logDir: outDir, log, maxQueued: num('peer-max-queued', opt['peer-max-queued']), maxInflight: num('peer-max-inflight', opt['peer-max-inflight']) });
      if (peer.mosquittoPid) track('mosquitto', peer.mosquittoPid);
      if (peer.nodeRed.pid) track('node-red', peer.nodeRed.pid);
      peerInfo = { versions: peerVersions(cache), mosquitto: peer.settings, flow: 'bench/peer/flows.json', cache };
      const { load, connect } = await startLoad('peer', peer.brokerUrl, credFile);
      connects.peer = connect;
      const c = peerCommitter(peer);
      for (const r of PEER_RATES) {
        const p = await committedPhase(load, c, `peer@${r}`, r, PEER_S);
        report(p);
        if (!c.alive()) {
          log(`peer: Node-RED exited (${String(peer.nodeRed.exitCode ?? peer.nodeRed.signalCode)}); see ${join(outDir, 'node-red.log')}`);
          peerInfo.died = `Node-RED exited during ${p.phase} (${String(peer.nodeRed.exitCode ?? peer.nodeRed.signalCode)})`;
          break;
        }
        if ((p.missing ?? 0) > 0) {
          log(`peer: ${String(p.missing)} acknowledged readings lost at ${r}/s offered: the zero-loss ceiling is below it`);
          break;
        }
      }
      await load.stop();
      untrack('peer', 'load');
      untrack('peer', 'mosquitto');
      untrack('peer', 'node-red');
    } catch (e) {
      if (run.roleDied || run.interrupted) throw e;
      peerInfo = { ...peerInfo, error: (e as Error).message };
      log(`peer could not run: ${(e as Error).message}`);
    }
    await peer?.stop();
    peer = undefined;
  }

  const loadAtEnd = loadAverage();
  sample();
  untrack('run', 'influxd');

  // Summary.
  const relayMax = phases.find((p) => p.phase === 'relay-max');
  const nodeMax = phases.find((p) => p.phase === 'node-max');
  const overload = phases.filter((p) => /^node@[\d.]+C$/.test(p.phase));
  const peerPhases = phases.filter((p) => p.system === 'peer');
  let peerCeiling = 0;
  for (const p of peerPhases) {
    if ((p.missing ?? 0) > 0 || p.drainTimedOut) break;
    peerCeiling = Math.max(peerCeiling, p.offeredRate);
  }
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const summary = {
    bareRelayPerS: relayMax?.ackedRate,
    nodeCommittedPerS: nodeMax?.committedRate,
    nodeMissing: nodeMax?.missing,
    /** Aim >= 1.0. */
    nodeToRelay: relayMax && nodeMax?.committedRate ? r2(nodeMax.committedRate / relayMax.ackedRate) : undefined,
    overload: overload.map((p) => ({ phase: p.phase, offered: p.offeredRate, committedPerS: p.committedRate, toCapacity: capacity ? r2((p.committedRate ?? 0) / capacity) : undefined, missing: p.missing, p99ms: 'p99' in p.latency ? p.latency.p99 : undefined })),
    peerZeroLossCeilingPerS: peerPhases.length ? peerCeiling : undefined,
    peerFirstLoss: peerPhases.find((p) => (p.missing ?? 0) > 0)?.offeredRate,
    /** Aim >= 2. */
    nodeToPeerCeiling: nodeMax?.committedRate && peerCeiling ? r2(nodeMax.committedRate / peerCeiling) : undefined,
  };
  const result = {
    command: `node --import tsx bench/pipeline.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date(started).toISOString(),
    wallS: Math.round((Date.now() - started) / 1000),
    machine: info,
    loadAtEnd,
    settings: { sensors: N, durationS: DURATION, overload: OVERLOAD, nodeRates: NODE_RATES, peerRates: PEER_RATES, peerS: PEER_S, window: WINDOW, maxInflight: opt['max-inflight'] ?? '2 s of a device at the phase rate, >= 16', batchSize: opt['batch-size'] ?? 'default', flushMs: opt['flush-ms'] ?? 'default', systems: [...SYSTEMS] },
    registration,
    connects,
    peer: peerInfo,
    phases,
    processes: finished,
    profiles,
    summary,
  };
  finish(result, markdown(result), result.wallS);
}

/** Where a role's CPU went: its largest `.cpuprofile` (the main thread) by area and function. */
function profileMarkdown(dir: string, top = 15): string {
  try {
    const biggest = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => ({ f: join(dir, f), size: statSync(join(dir, f)).size }))
      .sort((a, b) => b.size - a.size)[0];
    if (!biggest) return `no profile in ${dir}`;
    const profile = JSON.parse(readFileSync(biggest.f, 'utf8')) as Parameters<typeof summarise>[0] & { nodes: Array<{ id: number; children?: number[]; callFrame: { functionName: string; url: string } }> };
    // Samples taken while `Profiler.start` was returning are charged to the inspector's native
    // `dispatch`: they are the profiler's, not the node's.
    const parentOf = new Map<number, { callFrame: { functionName: string; url: string } }>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n);
    for (const n of profile.nodes) if (n.callFrame.functionName === 'dispatch' && parentOf.get(n.id)?.callFrame.url === 'node:inspector') n.callFrame.functionName = '(profiler start)';
    const s = summarise(profile);
    const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1)} %`;
    return [
      `${relative(repo, biggest.f)}: ${(s.totalMs / 1000).toFixed(1)} s sampled`,
      '',
      '| area | self ms | share |',
      '|---|---|---|',
      ...s.areas.slice(0, top).map(([a, ms]) => `| ${a} | ${Math.round(ms)} | ${pct(ms)} |`),
      '',
      '| function | self ms | share |',
      '|---|---|---|',
      ...s.functions.slice(0, top + 10).map(([f, ms]) => `| \`${f}\` | ${Math.round(ms)} | ${pct(ms)} |`),
    ].join('\n');
  } catch (e) {
    return `could not read the profile in ${dir}: ${(e as Error).message}`;
  }
}

/** The run as Markdown tables (pasted into docs/benchmarks.md). */
function markdown(r: {
  command: string;
  machine: Record<string, unknown>;
  loadAtEnd: Record<string, number>;
  registration: Record<string, unknown>;
  connects: Record<string, Record<string, number>>;
  peer: Record<string, unknown> | undefined;
  phases: PhaseResult[];
  processes: Record<string, ProcStats>;
  profiles: Record<string, string>;
  summary: Record<string, unknown>;
}): string {
  const m = r.machine;
  const la = m.loadAtStart as Record<string, number>;
  const reg = r.registration;
  const lines = [
    `Command: \`${r.command}\``,
    '',
    `Machine: ${String(m.nproc)} cores, ${String(m.cpuModel)}, ${String(m.memTotalGiB)} GiB RAM, Node ${String(m.node)}, ${String(m.influxd)}; commit ${String(m.commit)}, roles from ${String(m.roles)}; load average ${la.load1}/${la.load5}/${la.load15} at start, ${r.loadAtEnd.load1}/${r.loadAtEnd.load5}/${r.loadAtEnd.load15} at end.`,
    '',
    `Registration: ${reg.ms === undefined ? `${String(reg.sensors)} sensors reused from ${String(reg.reused)}` : `${String(reg.sensors)} sensors in ${String(reg.ms)} ms (${String(reg.perSecond)}/s)`}. Connect: ${Object.entries(r.connects)
      .map(([s, c]) => `${s} ${c.devices! - c.failed!}/${c.devices} in ${c.connectMs} ms`)
      .join(', ')}.`,
    '',
  ];
  if (r.peer) lines.push(`Peer: ${JSON.stringify(r.peer)}`, '');
  lines.push(
    '| phase | offered/s | acked/s | skipped | delivered or stored, steady /s | in InfluxDB (missing) | committed /s | drain ms | max spool | latency p50 / p99 ms | PUBACK p50 / p99 ms | load1 |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const p of r.phases) {
    lines.push(
      `| ${p.phase} | ${p.offeredRate || 'closed loop'} | ${p.ackedRate} | ${p.skipped} | ${p.steadyRate} | ${p.system === 'relay' ? '–' : `${String(p.influxCount)} (${String(p.missing)})`} | ${p.committedRate ?? '–'} | ${p.drainMs ?? '–'}${p.drainTimedOut ? ' (gave up)' : ''} | ${p.maxSpool ?? '–'} | ${fmtLat(p.latency)} | ${p.puback.p50} / ${p.puback.p99} | ${p.load1} |`,
    );
  }
  const roles = [...new Set(r.phases.flatMap((p) => Object.keys(p.cpu)))];
  lines.push('', '| phase | ' + roles.map((x) => `${x} CPU s (cores, µs/reading)`).join(' | ') + ' |', '|---|' + roles.map(() => '---').join('|') + '|');
  for (const p of r.phases) lines.push(`| ${p.phase} | ` + roles.map((x) => (p.cpu[x] ? `${p.cpu[x].cpuS} (${p.cpu[x].cores}, ${p.cpu[x].usPerMsg})` : '–')).join(' | ') + ' |');
  lines.push('', '| process | peak RSS (VmHWM) MiB | CPU s total |', '|---|---|---|');
  for (const [x, s] of Object.entries(r.processes)) lines.push(`| ${x} | ${s.peakRssMiB} | ${s.cpuS} |`);
  lines.push('', '```json', JSON.stringify(r.summary, null, 2), '```', '');
  for (const [role, md] of Object.entries(r.profiles)) lines.push(`Where the ${role} process's CPU went (--cpu-prof, self time):`, '', md, '');
  return lines.join('\n');
}

await run.main(main);
