/**
 * The pipeline benchmark: N devices at R readings/s through the broker and ingest into a real
 * InfluxDB 1.6, each role in its own process, and in the same run the broker's bare relay rate
 * (same publishers, same broker, one trivial QoS 1 subscriber instead of ingest).
 *
 *   node --import tsx bench/pipeline.ts --sensors 200 --rate 10000 --duration 30
 *
 * Phases, in order (each skippable, see --help):
 *   relay@R        the load at R with the sink subscribed (no ingest)
 *   relay-max      closed loop, as fast as broker + sink take it: the bare relay rate
 *   pipeline@R     the load at R with ingest -> InfluxDB (no sink)
 *   sweep@r        pipeline at each offered rate of --sweep (achieved vs offered)
 *   pipeline-max   closed loop through the whole pipeline
 *
 * Figures: readings/s acknowledged and committed (counted in InfluxDB by a query, and the
 * steady-state slope of ingest's stored counter), publish-to-stored latency p50/p99 (every
 * reading, from ingest's measuring store), peak RSS (VmHWM) and CPU seconds of broker, ingest,
 * load generator, sink and influxd. Results go to bench/results/<time>/ (result.json, summary.md,
 * role logs, and the ingest CPU profile with --profile). See bench/README.md.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from '../registry/registry.ts';
import { startInfluxDB, stopAll, type InfluxHandle } from '../tests/harness/services.ts';
import { BENCH_HUB, DOMAINS, sensorAt, type BenchSensor } from './lib/fleet.ts';
import { findPids, liveRoles, loadAverage, procStats, round1, RoleProcess, type ProcStats, type RoleMessage } from './lib/proc.ts';

const HELP = `Usage: node --import tsx bench/pipeline.ts [options]

  --sensors N              simulated devices, each its own MQTT client (default 200)
  --rate R                 offered readings/s of the relay@R and pipeline@R phases (default 10000)
  --duration D             seconds of the @R phases (default 30)
  --sweep r1,r2,...        offered rates of the sweep phases, or "none" (default 5000,10000,15000,20000)
  --sweep-duration S       seconds of each sweep phase (default 15)
  --relay-max-duration S   seconds of the closed-loop relay phase, 0 to skip (default 15)
  --pipeline-max-duration S  seconds of the closed-loop pipeline phase, 0 to skip (default 15)
  --phases LIST            phases to run, in this order whatever the list's order
                           (default relay,relay-max,pipeline,sweep,pipeline-max)
  --max-inflight K         per-device PUBACKs outstanding before a due reading is skipped
                           (default: 2 s of one device's readings at the highest offered
                           rate, at least 16)
  --window W               readings in flight in total in the closed-loop phases (default 2000)
  --hash-batch B           registrations hashed in parallel (default 32)
  --registry-cache DIR     keep the registered fleet (registry.db and its generated passwords,
                           mode 0600) in DIR and reuse it when N matches: skips registering
                           the fleet again on later runs
  --batch-size B           ingest.batchSize (default: the config default)
  --flush-ms MS            ingest.flushIntervalMs (default: the config default)
  --profile ROLES          run these roles (broker,ingest,load,sink) under --cpu-prof; profiles
                           in <results>/<role>-profile/ (summary: bench/profile-summary.ts)
  --out DIR                results root (default bench/results)
  -h, --help
`;

const { values: opt } = parseArgs({
  options: {
    sensors: { type: 'string', default: '200' },
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '30' },
    sweep: { type: 'string', default: '5000,10000,15000,20000' },
    'sweep-duration': { type: 'string', default: '15' },
    'relay-max-duration': { type: 'string', default: '15' },
    'pipeline-max-duration': { type: 'string', default: '15' },
    phases: { type: 'string', default: 'relay,relay-max,pipeline,sweep,pipeline-max' },
    'max-inflight': { type: 'string' },
    window: { type: 'string', default: '2000' },
    'hash-batch': { type: 'string', default: '32' },
    'registry-cache': { type: 'string' },
    'batch-size': { type: 'string' },
    'flush-ms': { type: 'string' },
    profile: { type: 'string', default: '' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const num = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`--${name}: "${v}" is not a non-negative number\n${HELP}`);
    process.exit(2);
  }
  return n;
};
const N = num('sensors', opt.sensors);
const RATE = num('rate', opt.rate);
const DURATION = num('duration', opt.duration);
const SWEEP = opt.sweep === 'none' || !opt.phases?.split(',').includes('sweep') ? [] : (opt.sweep ?? '').split(',').map((s) => num('sweep', s));
const SWEEP_S = num('sweep-duration', opt['sweep-duration']);
const PHASES = new Set((opt.phases ?? '').split(',').filter(Boolean));
for (const p of PHASES) {
  if (!['relay', 'relay-max', 'pipeline', 'sweep', 'pipeline-max'].includes(p)) {
    process.stderr.write(`--phases: unknown phase "${p}"\n${HELP}`);
    process.exit(2);
  }
}
const RELAY_MAX_S = PHASES.has('relay-max') ? num('relay-max-duration', opt['relay-max-duration']) : 0;
const PIPE_MAX_S = PHASES.has('pipeline-max') ? num('pipeline-max-duration', opt['pipeline-max-duration']) : 0;
const MAX_INFLIGHT = opt['max-inflight'] !== undefined ? num('max-inflight', opt['max-inflight']) : Math.max(16, Math.ceil((2 * Math.max(RATE, ...SWEEP)) / Math.max(1, Number(opt.sensors))));
const PROFILE = new Set((opt.profile ?? '').split(',').filter(Boolean));
const profileFlags = (role: string): string[] => (PROFILE.has(role) ? ['--cpu-prof', '--cpu-prof-dir', join(outDir, `${role}-profile`)] : []);
const WINDOW = num('window', opt.window);
if (N < 1 || RATE <= 0 || DURATION <= 0) {
  process.stderr.write(`--sensors, --rate and --duration must be positive\n${HELP}`);
  process.exit(2);
}

const repo = fileURLToPath(new URL('..', import.meta.url));
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = join(opt.out ?? join(repo, 'bench', 'results'), `pipeline-${stamp}`);
mkdirSync(outDir, { recursive: true });
const tmp = mkdtempSync(join(os.tmpdir(), 'steward-bench-'));
const regDir = join(tmp, 'registry');
const ingestDir = join(tmp, 'ingest');

const log = (msg: string): void => {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

// ------------------------------------------------------------------------------------------------
// Cleanup: every role, influxd and the temp dir, on success, error or Ctrl-C.

let influx: InfluxHandle | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.allSettled(liveRoles().map((r) => r.stop(5000)));
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) {
      for (const r of liveRoles()) r.kill();
      process.exit(130);
    }
    interrupted = true;
    log(`${sig}: stopping every process (again to force)`);
    void cleanup().finally(() => process.exit(130));
  });
}

let roleDied = false;
/** A role that dies on its own ends the run at once, with the end of its log. */
function watch(r: RoleProcess): RoleProcess {
  void r.exited.then(async (e) => {
    if (r.stopRequested || interrupted || cleaning) return;
    roleDied = true;
    let tail = '';
    try {
      tail = readFileSync(r.logFile, 'utf8').split('\n').slice(-25).join('\n');
    } catch {
      // no log
    }
    process.stderr.write(`\nbench failed: the ${r.role} process exited unexpectedly (${e.signal ?? `code ${String(e.code)}`}). End of ${r.logFile}:\n${tail}\n`);
    await cleanup();
    process.exit(1);
  });
  return r;
}

// ------------------------------------------------------------------------------------------------
// Process figures

interface Tracked {
  role: string;
  pid: number;
  /** Latest sample (peak RSS is VmHWM, so the latest sample holds the peak so far). */
  last?: ProcStats;
}
const tracked = new Map<string, Tracked>();
function track(role: string, pid: number): void {
  tracked.set(role, { role, pid, last: procStats(pid) });
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

/** The last figures of every tracked process, running or not (peak RSS and total CPU). */
function lastFigures(): Record<string, ProcStats> {
  sample();
  const out: Record<string, ProcStats> = {};
  for (const t of tracked.values()) if (t.last) out[t.role] = t.last;
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

interface PhaseResult {
  phase: string;
  kind: 'relay' | 'pipeline';
  /** Offered readings/s (0 = closed loop). */
  offeredRate: number;
  durationS: number;
  offered: number;
  acked: number;
  skipped: number;
  errors: number;
  reconnects: number;
  /** PUBACKed readings per second of publishing. */
  ackedRate: number;
  /** Relay: messages the sink received; pipeline: readings ingest spooled. */
  delivered: number;
  /** Slope of the delivered (relay) or stored (pipeline) counter over the steady window, per second. */
  steadyRate: number;
  /** Pipeline: readings counted in InfluxDB by a query; their rate over first publish -> last commit. */
  influxCount?: number;
  committedRate?: number;
  /** Pipeline: acked readings missing from InfluxDB, per sensor sums (must be 0). */
  missing?: number;
  /** Pipeline: ms from the end of publishing until the spool was empty and the last batch stored. */
  drainMs?: number;
  /** Pipeline: largest spool depth seen. */
  maxSpool?: number;
  latency: Record<string, unknown>;
  puback: Record<string, number>;
  /** The delivered (relay) or stored (pipeline) counter over the phase: [seconds since start, count]. */
  series: Array<[number, number]>;
  cpu: Record<string, { cpuS: number; cores: number; usPerMsg: number }>;
  load1: number;
}

/**
 * Slope (per second) of a counter between `from` and `to` (epoch ms): from the first sample at or
 * after `from` to the last at or before `to`; `fallback` when fewer than two samples fall inside
 * (a role too busy to report on time).
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

async function runLoad(load: RoleProcess, phase: string, rate: number, durationS: number): Promise<LoadDone> {
  log(`${phase}: ${rate > 0 ? `${rate} readings/s offered` : `closed loop, ${WINDOW} in flight`} for ${durationS} s`);
  const tty = process.stdout.isTTY;
  const stopProgress = load.onMessage((m) => {
    if (tty && m.type === 'progress' && m.phase === phase) process.stdout.write(`  ${phase} sent ${String(m.sent)} acked ${String(m.acked)} skipped ${String(m.skipped)} inflight ${String(m.inflight)}\r`);
  });
  try {
    return (await load.request('run', { phase, rate, durationS, window: WINDOW }, (durationS + 180) * 1000)) as LoadDone;
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
  const done = await runLoad(load, phase, rate, durationS);
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
    kind: 'relay',
    offeredRate: rate,
    durationS,
    offered: done.offered,
    acked: done.acked,
    skipped: done.skipped,
    errors: done.errors,
    reconnects: done.reconnects,
    ackedRate: Math.round(done.acked / (done.publishMs / 1000)),
    delivered: received - s0,
    steadyRate: slope(samples, done.startedAt + durationS * 200, done.endedAt, Math.round((received - s0) / ((Date.now() - done.startedAt) / 1000))),
    latency: { publishToDelivered: lat.publishToDelivered },
    puback: done.puback,
    series: series(samples, done.startedAt, s0),
    cpu: cpuDelta(cpu0, cpu1, wallS, done.acked),
    load1,
  };
}

async function pipelinePhase(load: RoleProcess, ingest: RoleProcess, phase: string, rate: number, durationS: number): Promise<PhaseResult> {
  const stored: Array<{ t: number; v: number }> = [];
  let maxSpool = 0;
  const off = ingest.onMessage((m) => {
    if (m.type !== 'stats') return;
    stored.push({ t: Number(m.t), v: Number(m.stored) });
    maxSpool = Math.max(maxSpool, Number(m.spool));
  });
  const s0 = await ingest.request('stats');
  await ingest.request('latency'); // reset
  const cpu0 = sample();
  const load1 = loadAverage().load1;
  const done = await runLoad(load, phase, rate, durationS);
  // Drain: every acked reading spooled, the spool empty, and everything taken stored.
  let s: RoleMessage;
  const until = Date.now() + 180_000;
  for (;;) {
    s = await ingest.request('stats');
    maxSpool = Math.max(maxSpool, Number(s.spool));
    const accepted = Number(s.accepted) - Number(s0.accepted);
    const settled = Number(s.stored) + Number(s.refused) - Number(s0.stored) - Number(s0.refused);
    if ((accepted >= done.acked && Number(s.spool) === 0 && settled >= accepted) || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const drainedAt = Number(s.t);
  const cpu1 = sample();
  off();
  const lat = await ingest.request('latency');
  // Count what InfluxDB holds for this phase's timestamps, per sensor.
  const measurements = DOMAINS.map((d) => `"${d}"`).join(',');
  const rows = await influx!.queryRows(`SELECT count("seq") AS n FROM ${measurements} WHERE "hub" = '${BENCH_HUB}' AND time >= ${done.tsMin}ms AND time <= ${done.tsMax}ms GROUP BY "sensor"`);
  const inDb = new Map<string, number>();
  for (const r of rows) inDb.set(String(r.sensor), (inDb.get(String(r.sensor)) ?? 0) + Number(r.n));
  let influxCount = 0;
  for (const v of inDb.values()) influxCount += v;
  let missing = 0;
  for (const [sensor, acked] of done.perSensor) missing += Math.max(0, acked - (inDb.get(sensor) ?? 0));
  const wallS = (drainedAt - done.startedAt) / 1000;
  return {
    phase,
    kind: 'pipeline',
    offeredRate: rate,
    durationS,
    offered: done.offered,
    acked: done.acked,
    skipped: done.skipped,
    errors: done.errors,
    reconnects: done.reconnects,
    ackedRate: Math.round(done.acked / (done.publishMs / 1000)),
    delivered: Number(s.accepted) - Number(s0.accepted),
    steadyRate: slope(stored, done.startedAt + durationS * 200, done.endedAt, Math.round((Number(s.stored) - Number(s0.stored)) / ((drainedAt - done.startedAt) / 1000))),
    influxCount,
    committedRate: Math.round(influxCount / wallS),
    missing,
    drainMs: Math.max(0, drainedAt - done.endedAt),
    maxSpool,
    latency: lat.publishToStored as Record<string, unknown>,
    puback: done.puback,
    series: series(stored, done.startedAt, Number(s0.stored)),
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
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memTotalGiB: round1(os.totalmem() / 2 ** 30),
    memFreeGiB: round1(os.freemem() / 2 ** 30),
    node: process.version,
    influxd: influxVersion,
    kernel: os.release(),
    loadAtStart: loadAverage(),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const info = machine();
  log(`bench: ${N} sensors, ${RATE} readings/s for ${DURATION} s; sweep ${SWEEP.join(',') || 'none'}; results in ${relative(process.cwd(), outDir) || outDir}`);
  log(`machine: ${String(info.nproc)} cores (${String(info.cpuModel)}), ${String(info.memTotalGiB)} GiB, Node ${process.version}, ${String(info.influxd)}, load ${JSON.stringify(info.loadAtStart)}`);

  // Registry: service accounts and N devices, in parallel batches (generated passwords: keyed hashes, microseconds each).
  const batch = Math.max(1, num('hash-batch', opt['hash-batch']));
  const cache = opt['registry-cache'];
  let secrets: { ingestPw: string; sinkPw: string; creds: BenchSensor[] } | undefined;
  if (cache && existsSync(join(cache, 'secrets.json')) && existsSync(join(cache, 'registry.db'))) {
    const cached = JSON.parse(readFileSync(join(cache, 'secrets.json'), 'utf8')) as typeof secrets;
    if (cached?.creds.length === N) {
      mkdirSync(regDir, { recursive: true });
      copyFileSync(join(cache, 'registry.db'), join(regDir, 'registry.db'));
      secrets = cached;
      log(`reusing the ${N} sensors registered in ${cache}`);
    }
  }
  let registerMs: number | undefined;
  if (!secrets) {
    const registry = Registry.open(regDir);
    const ingestPw = (await registry.addAccount({ name: 'ingest', role: 'service' })).password;
    const sinkPw = (await registry.addAccount({ name: 'sink', role: 'service' })).password;
    const creds: BenchSensor[] = [];
    const tReg = performance.now();
    for (let i = 0; i < N; i += batch) {
      const part = await Promise.all(
        Array.from({ length: Math.min(batch, N - i) }, async (_, k) => {
          const { domain, sensor } = sensorAt(i + k);
          const { password } = await registry.addSensor({ hub: BENCH_HUB, domain, sensor });
          return { hub: BENCH_HUB, domain, sensor, username: `${BENCH_HUB}.${sensor}`, password };
        }),
      );
      creds.push(...part);
    }
    registerMs = Math.round(performance.now() - tReg);
    registry.close(); // checkpoints the WAL into registry.db
    secrets = { ingestPw, sinkPw, creds };
    log(`registered ${N} sensors in ${registerMs} ms (${Math.round(N / (registerMs / 1000))}/s, ${batch} hashed in parallel)`);
    if (cache) {
      mkdirSync(cache, { recursive: true, mode: 0o700 });
      copyFileSync(join(regDir, 'registry.db'), join(cache, 'registry.db'));
      writeFileSync(join(cache, 'secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
    }
  }
  const { ingestPw, sinkPw, creds } = secrets;
  const credFile = join(tmp, 'credentials.json');
  writeFileSync(credFile, JSON.stringify(creds), { mode: 0o600 });

  influx = await startInfluxDB({ database: 'bench' });
  const influxPid = findPids(influx.dataDir).find((p) => procStats(p));
  if (influxPid) track('influxd', influxPid);
  log(`InfluxDB at ${influx.url} (pid ${String(influxPid)})`);

  const logFile = (role: string): string => join(outDir, `${role}.log`);
  const broker = watch(RoleProcess.spawn('broker', { args: ['--registry-dir', regDir, '--max-connections', String(N + 100)], nodeFlags: profileFlags('broker'), logFile: logFile('broker') }));
  const ready = await broker.waitFor((m) => m.type === 'ready', 60_000, 'ready');
  const brokerUrl = `mqtt://127.0.0.1:${String((ready.ports as { mqtt: number }).mqtt)}`;
  track('broker', broker.pid);
  log(`broker at ${brokerUrl} (pid ${broker.pid})`);

  const load = watch(RoleProcess.spawn('load', { args: ['--broker-url', brokerUrl, '--credentials', credFile, '--max-inflight', String(MAX_INFLIGHT)], nodeFlags: profileFlags('load'), logFile: logFile('load') }));
  track('load', load.pid);
  const offConnecting = load.onMessage((m) => m.type === 'connecting' && log(`  connecting: ${String(m.connected)}/${String(m.total)} after ${String(m.elapsedMs)} ms`));
  const loadReady = await load.waitFor((m) => m.type === 'ready', N * 200 + 120_000, 'ready');
  offConnecting();
  const brokerClients = Number((await broker.request('clients')).connected);
  const connect = { devices: N, connectMs: Number(loadReady.connectMs), perSecond: Number(loadReady.perSecond), failed: Number(loadReady.failed), brokerConnectedClients: brokerClients };
  log(`connected ${N - connect.failed}/${N} devices in ${connect.connectMs} ms (${connect.perSecond}/s); broker counts ${brokerClients} clients`);
  const afterConnect = sample();

  const phases: PhaseResult[] = [];
  const report = (p: PhaseResult): void => {
    phases.push(p);
    const lat = p.latency as { p50?: number; p99?: number; publishToDelivered?: { p50: number; p99: number } };
    const l = p.kind === 'pipeline' ? `stored p50 ${String(lat.p50)} ms p99 ${String(lat.p99)} ms` : `delivered p50 ${String(lat.publishToDelivered?.p50)} ms p99 ${String(lat.publishToDelivered?.p99)} ms`;
    const extra = p.kind === 'pipeline' ? `, InfluxDB ${String(p.influxCount)} (${String(p.committedRate)}/s, missing ${String(p.missing)}), drain ${String(p.drainMs)} ms, max spool ${String(p.maxSpool)}` : `, sink received ${p.delivered}`;
    log(`${p.phase}: acked ${p.acked}/${p.offered} (${p.ackedRate}/s, skipped ${p.skipped}), steady ${p.steadyRate}/s${extra}; ${l}`);
  };

  if (PHASES.has('relay') || RELAY_MAX_S > 0) {
    const sink = watch(RoleProcess.spawn('sink', { args: ['--broker-url', brokerUrl], nodeFlags: profileFlags('sink'), logFile: logFile('sink'), env: { ...process.env, BENCH_SINK_PASSWORD: sinkPw } }));
    await sink.waitFor((m) => m.type === 'ready', 60_000, 'ready');
    track('sink', sink.pid);
    if (PHASES.has('relay')) report(await relayPhase(load, sink, `relay@${RATE}`, RATE, DURATION));
    if (RELAY_MAX_S > 0) report(await relayPhase(load, sink, 'relay-max', 0, RELAY_MAX_S));
    await sink.stop();
    sample();
  }

  const pipelinePhases = PHASES.has('pipeline') || SWEEP.length > 0 || PIPE_MAX_S > 0;
  const ingest = !pipelinePhases ? undefined : watch(RoleProcess.spawn('ingest', {
    args: [
      '--registry-dir', regDir,
      '--data-dir', ingestDir,
      '--broker-url', brokerUrl,
      '--influx-url', influx.url,
      '--database', 'bench',
      ...(opt['batch-size'] ? ['--batch-size', opt['batch-size']] : []),
      ...(opt['flush-ms'] ? ['--flush-ms', opt['flush-ms']] : []),
    ],
    // One profile per thread (tsx runs its loader in a worker): the biggest file is the main thread.
    nodeFlags: profileFlags('ingest'),
    logFile: logFile('ingest'),
    env: { ...process.env, BENCH_INGEST_PASSWORD: ingestPw },
  }));
  if (ingest) {
    await ingest.waitFor((m) => m.type === 'ready', 60_000, 'ready');
    track('ingest', ingest.pid);
    if (PHASES.has('pipeline')) report(await pipelinePhase(load, ingest, `pipeline@${RATE}`, RATE, DURATION));
    for (const r of SWEEP) report(await pipelinePhase(load, ingest, `sweep@${r}`, r, SWEEP_S));
    if (PIPE_MAX_S > 0) report(await pipelinePhase(load, ingest, 'pipeline-max', 0, PIPE_MAX_S));
  }

  const loadAtEnd = loadAverage();
  await ingest?.stop(30_000);
  await load.stop();
  const final = lastFigures();
  await broker.stop();

  // Summary.
  const relayR = phases.find((p) => p.phase === `relay@${RATE}`);
  const relayMax = phases.find((p) => p.phase === 'relay-max');
  const pipeR = phases.find((p) => p.phase === `pipeline@${RATE}`);
  const pipeMax = phases.find((p) => p.phase === 'pipeline-max');
  const sustainable = phases
    .filter((p) => p.phase.startsWith('sweep@') && p.acked >= 0.97 * p.offered && p.steadyRate >= 0.95 * p.offeredRate && p.missing === 0 && (p.drainMs ?? 0) < 5000)
    .reduce((m, p) => Math.max(m, p.offeredRate), 0);
  const summary = {
    pipelineAtRate: pipeR && { offered: RATE, steadyStoredPerS: pipeR.steadyRate, committedPerS: pipeR.committedRate, influxCount: pipeR.influxCount, acked: pipeR.acked, missing: pipeR.missing, p50ms: (pipeR.latency as { p50: number }).p50, p99ms: (pipeR.latency as { p99: number }).p99 },
    relayAtRatePerS: relayR?.steadyRate,
    /** Same offered load through both: 1 when the pipeline keeps up with what the broker relays. */
    pipelineToRelayAtRate: relayR && pipeR ? Math.round((pipeR.steadyRate / relayR.steadyRate) * 100) / 100 : undefined,
    bareRelayMaxPerS: relayMax?.ackedRate,
    /** The pipeline at R against the most the bare broker relays (the issue's "at least half"). */
    pipelineAtRateToRelayMax: relayMax && pipeR ? Math.round((pipeR.steadyRate / relayMax.ackedRate) * 100) / 100 : undefined,
    pipelineMaxPerS: pipeMax?.steadyRate,
    pipelineMaxCommittedPerS: pipeMax?.committedRate,
    pipelineMaxToRelayMax: relayMax && pipeMax ? Math.round((pipeMax.steadyRate / relayMax.ackedRate) * 100) / 100 : undefined,
    maxSustainableOffered: sustainable || undefined,
  };
  const result = {
    command: `node --import tsx bench/pipeline.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date(started).toISOString(),
    wallS: Math.round((Date.now() - started) / 1000),
    machine: info,
    loadAtEnd,
    settings: { sensors: N, rate: RATE, durationS: DURATION, sweep: SWEEP, sweepS: SWEEP_S, relayMaxS: RELAY_MAX_S, pipelineMaxS: PIPE_MAX_S, maxInflight: MAX_INFLIGHT, phases: [...PHASES], window: WINDOW, batchSize: opt['batch-size'] ?? 'default', flushMs: opt['flush-ms'] ?? 'default' },
    registration: registerMs === undefined ? { sensors: N, reused: cache } : { sensors: N, ms: registerMs, perSecond: Math.round(N / (registerMs / 1000)), parallel: batch },
    connect,
    rssAfterConnect: afterConnect,
    phases,
    processes: final,
    summary,
  };
  writeFileSync(join(outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  writeFileSync(join(outDir, 'summary.md'), md);
  process.stdout.write(`\n${md}\n`);
  log(`done in ${result.wallS} s; ${relative(process.cwd(), join(outDir, 'result.json'))}`);
}

/** The run as Markdown tables (pasted into docs/benchmarks.md). */
function markdown(r: {
  command: string;
  machine: Record<string, unknown>;
  loadAtEnd: Record<string, number>;
  registration: { sensors: number; ms?: number; perSecond?: number; reused?: string };
  connect: { devices: number; failed: number; connectMs: number; perSecond: number };
  phases: PhaseResult[];
  processes: Record<string, ProcStats>;
  summary: Record<string, unknown>;
}): string {
  const m = r.machine;
  const la = m.loadAtStart as Record<string, number>;
  const lines = [
    `Command: \`${r.command}\``,
    '',
    `Machine: ${String(m.nproc)} cores, ${String(m.cpuModel)}, ${String(m.memTotalGiB)} GiB RAM, Node ${String(m.node)}, ${String(m.influxd)}; load average ${la.load1}/${la.load5}/${la.load15} at start, ${r.loadAtEnd.load1}/${r.loadAtEnd.load5}/${r.loadAtEnd.load15} at end.`,
    '',
    `Registration: ${r.registration.ms === undefined ? `${r.registration.sensors} sensors reused from ${String(r.registration.reused)}` : `${r.registration.sensors} sensors in ${r.registration.ms} ms (${String(r.registration.perSecond)}/s)`}. Connect: ${r.connect.devices - r.connect.failed}/${r.connect.devices} devices in ${r.connect.connectMs} ms (${r.connect.perSecond}/s).`,
    '',
    '| phase | offered/s | acked/s | skipped | delivered or stored, steady /s | in InfluxDB (missing) | committed /s | drain ms | max spool | latency p50 / p99 ms | PUBACK p50 / p99 ms | load1 |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of r.phases) {
    const lat = p.kind === 'pipeline' ? (p.latency as { p50: number; p99: number }) : ((p.latency as { publishToDelivered: { p50: number; p99: number } }).publishToDelivered ?? { p50: NaN, p99: NaN });
    lines.push(
      `| ${p.phase} | ${p.offeredRate || 'closed loop'} | ${p.ackedRate} | ${p.skipped} | ${p.steadyRate} | ${p.kind === 'pipeline' ? `${String(p.influxCount)} (${String(p.missing)})` : '–'} | ${p.committedRate ?? '–'} | ${p.drainMs ?? '–'} | ${p.maxSpool ?? '–'} | ${lat.p50} / ${lat.p99} | ${p.puback.p50} / ${p.puback.p99} | ${p.load1} |`,
    );
  }
  const roles = ['broker', 'ingest', 'load', 'sink', 'influxd'];
  lines.push('', '| phase | ' + roles.map((x) => `${x} CPU s (cores, µs/msg)`).join(' | ') + ' |', '|---|' + roles.map(() => '---').join('|') + '|');
  for (const p of r.phases) lines.push(`| ${p.phase} | ` + roles.map((x) => (p.cpu[x] ? `${p.cpu[x].cpuS} (${p.cpu[x].cores}, ${p.cpu[x].usPerMsg})` : '–')).join(' | ') + ' |');
  lines.push('', '| process | peak RSS (VmHWM) MiB | CPU s total |', '|---|---|---|');
  for (const x of roles) if (r.processes[x]) lines.push(`| ${x} | ${r.processes[x].peakRssMiB} | ${r.processes[x].cpuS} |`);
  lines.push('', '```json', JSON.stringify(r.summary, null, 2), '```', '');
  return lines.join('\n');
}

try {
  await main();
} catch (err) {
  if (interrupted) process.exitCode = 130;
  else if (roleDied) process.exitCode = 1; // reported by watch()
  else {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n(role logs in ${outDir})\n`);
    process.exitCode = 1;
  }
} finally {
  clearInterval(sampler);
  await cleanup();
}
