/**
 * The rules benchmark: publish-to-alert latency under background load, and evaluation
 * throughput with 1,000 rules.
 *
 *   node --import tsx bench/rules.ts                       # idle, load@5000, throughput: ~2 min
 *   node --import tsx bench/rules.ts --phases idle,load --rate 2000,5000
 *   node --import tsx bench/rules.ts --phases idle --topology split [--service-nodelay]
 *   node --import tsx bench/rules.ts --phases throughput --rules 1000
 *
 * Latency (real processes, real sockets). The system under test, `--topology`:
 * - `all-in-one` (default): `steward start` without the simulator (bench/roles/rules-server.ts:
 *   cli/roles.ts `startAll`, i.e. embedded store, the node (broker with the durable intake in its
 *   publish path, forwarder), API and rules in one process, as `npm start` runs them), rules fed
 *   by the intake's `onReadings` after each spool commit, alerts published in-process;
 * - `split`: `steward broker` (a node) and `steward rules` as two processes
 *   (bench/roles/rules-broker.ts, rules-standalone.ts); the rules process reads the QoS 0
 *   raw-tier copies the node sends after each commit and publishes alerts over its own mqtt.js
 *   connection.
 * Both load the shipped demo rules plus the probe rule `probe-battery-low` (threshold below 20 %,
 * hysteresis 5, no for-duration). `load` (bench/roles/load.ts) is N registered devices of the demo
 * hub publishing quiet readings at QoS 1 (R/s in total, none of which fires anything); `probe`
 * (bench/roles/rules-probe.ts) is one battery device alternating 9 % (fires) and 30 % (resolves)
 * a few times per second, and a hub member (account of role `hub`) subscribed to
 * `csm/v1/demo/alerts/#` in the same process. Latency = arrival of the `firing` / `resolved` alert
 * at the member minus the publish; the instrumented roles add marks on the way (handed to the
 * intake, committed and handled by the rules, alert in the broker) for a split by stage.
 * Phases: `idle` (probe alone), then one `load@R` per rate (probe during the background load,
 * after a warm-up). If the system under test dies, the phase fails with the end of its log and
 * the run goes on.
 *
 * Throughput (in-process, no network): bench/roles/rules-eval.ts feeds readings one at a time to
 * an engine loaded with a generated rule set, then times `evaluate()` (every windowed and deadman
 * rule). Sets: `generated` (--rules rules), `none` (the fixed cost per reading), `demo`.
 *
 * Results: Markdown on stdout, and bench/results/rules-<time>/ (result.json, summary.md, each
 * role's log, CPU profiles with --profile). See docs/benchmarks.md.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, relative } from 'node:path';
import { Registry } from '../registry/registry.ts';
import { DEFAULT_RULES_DIR } from '../rules/check.ts';
import { sensorAt, type BenchSensor } from './lib/fleet.ts';
import { loadAverage, machineInfo, nodeFlagsUnderTest, procStats, REPO as repo, RoleProcess, round1, startBenchRun, type ProcStats, type RoleMessage } from './lib/proc.ts';
import { benchArgs, ROLES_FROM_HELP, ROLES_FROM_OPTION } from './lib/args.ts';
import type { Sample as ProbeSample } from './roles/rules-probe.ts';

const HELP = `Usage: node --import tsx bench/rules.ts [options]

  --phases LIST        idle,load,throughput (default: all three)
  Latency (idle, load):
  --rate R[,R2…]       background readings/s of the load phase; a list runs one load phase
                       per rate, in that order (default 5000)
  --topology T         all-in-one: \`steward start\` in one process (default); split: \`steward
                       broker\` (a node) and \`steward rules\` as two processes (rules
                       reads the raw tier and publishes alerts over its own mqtt.js connection)
  --devices N          background devices of the demo hub, each its own MQTT client (default 100)
  --duration D         seconds the probe runs in the load phase (default 30)
  --idle-duration S    seconds the probe runs in the idle phase (default 10)
  --warmup S           seconds of background load before the probe starts (default 5)
  --hz H               probe readings per second (default 5: one alert transition each)
  --service-nodelay    experiment: the service processes' own mqtt.js connections (in the
                       split topology rules', which reads the raw tier and publishes alerts) set
                       TCP_NODELAY (default: as Steward does, Nagle on)
  --nodelay            probe clients set TCP_NODELAY (default: plain mqtt.js, Nagle on, as a
                       real device or hub member would connect)
  --log-level L        server log level (default info, as \`steward start\`)
  --forwarder-nice N   the server's ingest.forwarderNice (default 0: the forwarder thread at
                       the main thread's priority)
  --load-nice N        the background load generator's nice value (default 0). It stands in
                       for 100 devices that live on other machines; 10 keeps it from taking
                       the cores from the server and the probe on a small host
  --aedes-concurrency N  experiment: Aedes's emitter concurrency in the server (default:
                       Steward's, 0: no emitter queue, flow control per publisher)
  Throughput:
  --rules N            generated rules (default 1000)
  --eval-sensors S     sensors of the generated fleet (default 400)
  --readings N         readings fed to the engine (default 200000)
  --evaluations K      evaluate() runs timed (default 5)
  --batch B            readings per onReadings call (default 1: one MQTT message per call)
  --sets LIST          rule sets: generated,none,demo (default generated,none)
  General:
  --profile ROLES      run these roles (server,load,probe,eval) under --cpu-prof
  --out DIR            results root (default bench/results)
${ROLES_FROM_HELP}
  -h, --help
`;

const { opt, num, words, fail, rolesFrom } = benchArgs(HELP, {
  ...ROLES_FROM_OPTION,
  phases: { type: 'string', default: 'idle,load,throughput' },
  rate: { type: 'string', default: '5000' },
  topology: { type: 'string', default: 'all-in-one' },
  devices: { type: 'string', default: '100' },
  duration: { type: 'string', default: '30' },
  'idle-duration': { type: 'string', default: '10' },
  warmup: { type: 'string', default: '5' },
  hz: { type: 'string', default: '5' },
  nodelay: { type: 'boolean', default: false },
  'service-nodelay': { type: 'boolean', default: false },
  'log-level': { type: 'string', default: 'info' },
  'aedes-concurrency': { type: 'string' },
  'forwarder-nice': { type: 'string', default: '0' },
  'load-nice': { type: 'string', default: '0' },
  rules: { type: 'string', default: '1000' },
  'eval-sensors': { type: 'string', default: '400' },
  readings: { type: 'string', default: '200000' },
  evaluations: { type: 'string', default: '5' },
  batch: { type: 'string', default: '1' },
  sets: { type: 'string', default: 'generated,none' },
  profile: { type: 'string', default: '' },
  out: { type: 'string' },
});
const PHASES = words('phases', 'phase', opt.phases, ['idle', 'load', 'throughput']);
const RATES = (opt.rate ?? '').split(',').map((r) => num('rate', r, 1));
const TOPOLOGY = opt.topology === 'split' ? 'split' : 'all-in-one';
if (opt.topology !== 'split' && opt.topology !== 'all-in-one') fail(`--topology: "${opt.topology}" is not all-in-one or split`);
const DEVICES = num('devices', opt.devices, 1);
const DURATION = num('duration', opt.duration, 1);
const IDLE_S = num('idle-duration', opt['idle-duration'], 1);
const WARMUP = num('warmup', opt.warmup);
const HZ = num('hz', opt.hz, 0.1);
const LOAD_NICE = Math.min(19, num('load-nice', opt['load-nice']));
/**
 * The probe is the instrument: it stands in for a hub member's phone on another machine. Without
 * this flag its own V8 "memory reducer" ran a 15–20 ms mark-compact about 8.5 s after it started,
 * and an alert arriving then was counted that much later (docs/benchmarks.md).
 */
const PROBE_NODE_FLAGS = ['--no-memory-reducer'];
const SETS = (opt.sets ?? '').split(',').filter(Boolean);
const PROFILE = new Set((opt.profile ?? '').split(',').filter(Boolean));
/** Per-device PUBACKs outstanding before the load generator skips a due reading: 2 s of readings. */
const MAX_INFLIGHT = Math.max(16, Math.ceil((2 * Math.max(...RATES)) / DEVICES));

const HUB = 'demo';
const PROBE = { domain: 'energy', sensor: 'probe-battery', rule: 'probe-battery-low', member: 'members' } as const;
/** The probe's rule: the same shape as the demo's `battery-low`, without its 15-minute for-duration. */
const PROBE_RULES = `# The rules bench's probe rule (bench/rules.ts), loaded beside rules/defaults/demo.yaml.
hub: ${HUB}
rules:
  - id: ${PROBE.rule}
    kind: threshold
    title: Battery charge
    severity: critical
    select: { domain: energy, sensor: ${PROBE.sensor}, metric: battery_soc }
    below: 20
    hysteresis: 5          # resolves above 25 %
    renotify: 0s
`;

// The run: results and temp dirs; every role and the temp dir go on success, error or Ctrl-C.
const { outDir, tmp, log, watch: watchRole, main: run, finish } = startBenchRun({ name: 'rules', out: opt.out, tmpPrefix: 'steward-bench-rules-', rolesFrom: rolesFrom(opt['roles-from']) });
const profileFlags = (role: string): string[] => (PROFILE.has(role) ? ['--cpu-prof', '--cpu-prof-dir', join(outDir, `${role}-profile`)] : []);
const logFile = (role: string): string => join(outDir, `${role}.log`);

/** Roles that exited on their own (a latency phase then fails, and the run goes on). */
const died = new Map<string, string>();
/**
 * Watches a role. A fatal role that dies on its own ends the run at once, with the end of its
 * log; a non-fatal one (the system under test) is noted, and the phase waiting on it fails.
 */
function watch(r: RoleProcess, fatal = true): RoleProcess {
  if (fatal) return watchRole(r);
  return watchRole(r, (why, tail) => {
    died.set(r.role, `${why}. End of ${r.logFile}:\n${tail}`);
    log(`${why}; see ${r.logFile}`);
  });
}

// ------------------------------------------------------------------------------------------------
// Figures

/**
 * Nearest-rank percentiles of milliseconds (exact: a few hundred samples). `late` values that
 * never arrived count above every arrival: a percentile falling among them is Infinity.
 */
interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}
function summarize(values: number[], late = 0): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length + late;
  if (!n) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const q = (p: number): number => {
    const i = Math.max(0, Math.ceil(p * n) - 1);
    return i < v.length ? round1(v[i]!) : Infinity;
  };
  return { n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: late ? Infinity : round1(v.at(-1)!), mean: v.length ? round1(v.reduce((a, b) => a + b, 0) / v.length) : NaN };
}
/** A latency for tables: "> 5 s" for an alert that never arrived. */
function fmtMs(x: number): string {
  return x === Infinity ? '> 5 s' : String(x);
}

function machine(): Record<string, unknown> {
  let freeH = 'unavailable';
  try {
    freeH = execFileSync('free', ['-h'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unavailable
  }
  return { ...machineInfo(), freeH };
}

/** The busiest processes right now (other engineers' suites show up here). */
function busiest(n = 6): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pcpu,pid,args', '--sort=-pcpu'], { encoding: 'utf8' });
    return out
      .split('\n')
      .slice(1, n + 1)
      .map((l) => l.trim().replace(/\s+/g, ' ').slice(0, 140));
  } catch {
    return [];
  }
}

interface Tracked {
  role: string;
  pid: number;
}
const tracked: Tracked[] = [];
function cpuNow(): Record<string, ProcStats> {
  const out: Record<string, ProcStats> = {};
  for (const t of tracked) {
    const s = procStats(t.pid);
    if (s) out[t.role] = s;
  }
  return out;
}
function cpuDelta(a: Record<string, ProcStats>, b: Record<string, ProcStats>, wallS: number): Record<string, { cpuS: number; cores: number; peakRssMiB: number }> {
  const out: Record<string, { cpuS: number; cores: number; peakRssMiB: number }> = {};
  for (const [role, s] of Object.entries(b)) {
    const s0 = a[role];
    if (!s0) continue;
    const cpuS = Math.round((s.cpuS - s0.cpuS) * 100) / 100;
    out[role] = { cpuS, cores: Math.round((cpuS / wallS) * 100) / 100, peakRssMiB: s.peakRssMiB };
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Latency phases

type Eld = { p50: number; p99: number; max: number; mean: number };
/** The main thread's event-loop turns over `overMs`: how many, their total length, and of that the time on a CPU and waiting for one (null off Linux). */
type LongTurns = { overMs: number; turns: number; ms: number; onCpuMs: number | null; waitingForCpuMs: number | null };

/** What an instrumented role (./roles/rules-marks.ts) answers to `stats`. */
interface RoleStats extends RoleMessage {
  wallMs: number;
  accepted: number | null;
  cpuS: number;
  eventLoopDelayMs: Eld;
  longTurns: LongTurns;
  streamEvaluation: { calls: number; meanUs: number | null };
  scheduledEvaluation: { runs: number; msPerS: number };
  storageWrites: { writes: number; meanMs: number | null };
  spoolDepth?: number;
  marks: Partial<Record<MarkName, Array<[string, number]>>>;
}
type MarkName = 'received' | 'handled' | 'published' | 'alerted';
const MARK_ORDER: MarkName[] = ['received', 'handled', 'published', 'alerted'];

/** Words for the stage between two marks (`sent`, the marks, `arrived`). */
function stageName(from: string, to: string): string {
  const names: Record<string, string> = {
    'sent>handled': TOPOLOGY === 'split' ? 'publish → committed, raw copy to rules, rules done' : 'publish → committed + rules done',
    'sent>received': 'publish → in the intake',
    'received>handled': TOPOLOGY === 'split' ? 'intake → committed, raw copy to rules, rules done' : 'intake → committed + rules done',
    'handled>published': 'rules → alert to mqtt.js',
    'handled>alerted': 'rules → alert in broker',
    'published>alerted': 'mqtt.js → alert in broker',
    'alerted>arrived': 'broker → member',
  };
  return names[`${from}>${to}`] ?? `${from} → ${to}`;
}

interface LatencyPhase {
  phase: string;
  topology: string;
  offeredPerS: number;
  acceptedPerS: number;
  load?: { acked: number; skipped: number; errors: number; ackedPerS: number; puback: Record<string, number> };
  probes: number;
  /** Alerts that had not arrived 5 s after the last probe: counted above every arrival in the percentiles. */
  missing: number;
  latency: Summary;
  firing: Summary;
  resolved: Summary;
  stages: Record<string, Summary>;
  probePuback: Summary;
  roles: Record<string, { cores: number; eventLoopDelayMs: Eld; longTurns: LongTurns; streamEvaluationUs: number | null; scheduledEvaluation: RoleStats['scheduledEvaluation']; storageWrites: RoleStats['storageWrites']; spoolDepth?: number }>;
  otherAlerts: Record<string, number>;
  cpu: ReturnType<typeof cpuDelta>;
  load1: number;
  busiest: string[];
  samples: ProbeSample[];
}

async function latencyPhase(name: string, rate: number, instrumented: RoleProcess[], probe: RoleProcess, load: RoleProcess | undefined, durationS: number): Promise<LatencyPhase> {
  const load1 = loadAverage().load1;
  const top = busiest();
  let loadDone: Promise<RoleMessage> | undefined;
  if (load && rate > 0) {
    loadDone = load.request('run', { phase: name, rate, durationS: WARMUP + durationS + 3 }, (WARMUP + durationS + 200) * 1000);
    loadDone.catch(() => undefined); // awaited below; a failure there fails the phase
    log(`  ${name}: ${rate} readings/s from ${DEVICES} devices; warming up ${WARMUP} s`);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
  }
  await Promise.all(instrumented.map((r) => r.request('reset')));
  const cpu0 = cpuNow();
  const t0 = performance.now();
  log(`  ${name}: probing for ${durationS} s at ${HZ}/s`);
  const done = await probe.request('run', { phase: name, durationS, hz: HZ }, (durationS + 60) * 1000);
  const stats = (await Promise.all(instrumented.map((r) => r.request('stats')))) as RoleStats[];
  const wallS = (performance.now() - t0) / 1000;
  const cpu = cpuDelta(cpu0, cpuNow(), wallS);
  const loadResult = loadDone ? await loadDone : undefined;

  const samples = done.samples as ProbeSample[];
  const marks = new Map<MarkName, Map<string, number>>();
  for (const st of stats) for (const [k, v] of Object.entries(st.marks)) marks.set(k as MarkName, new Map(v));
  const present = MARK_ORDER.filter((m) => marks.has(m));
  const chain = ['sent', ...present, 'arrived'];
  const stage = new Map<string, number[]>(chain.slice(1).map((to, i) => [stageName(chain[i]!, to), []]));
  for (const s of samples) {
    if (s.arrivedAt === null) continue;
    const at = (m: string): number | undefined =>
      m === 'sent' ? s.sentAt : m === 'arrived' ? (s.arrivedAt ?? undefined) : marks.get(m as MarkName)?.get(m === 'handled' || m === 'received' ? String(s.ts) : `${s.ts}|${s.event}`);
    const times = chain.map(at);
    if (times.some((t) => t === undefined)) continue;
    for (let i = 1; i < chain.length; i++) stage.get(stageName(chain[i - 1]!, chain[i]!))!.push(times[i]! - times[i - 1]!);
  }
  const lat = (f: (s: ProbeSample) => boolean): Summary => {
    const chosen = samples.filter(f);
    return summarize(chosen.filter((s) => s.latencyMs !== null).map((s) => s.latencyMs!), chosen.filter((s) => s.latencyMs === null).length);
  };
  const accepted = Math.max(0, ...stats.map((st) => st.accepted ?? 0));
  const wallMs = stats[0]?.wallMs ?? 1;
  const result: LatencyPhase = {
    phase: name,
    topology: TOPOLOGY,
    offeredPerS: loadDone ? rate : 0,
    acceptedPerS: Math.round(accepted / (wallMs / 1000)),
    probes: samples.length,
    missing: samples.filter((s) => s.arrivedAt === null).length,
    latency: lat(() => true),
    firing: lat((s) => s.event === 'firing'),
    resolved: lat((s) => s.event === 'resolved'),
    stages: Object.fromEntries([...stage].map(([k, v]) => [k, summarize(v)])),
    probePuback: summarize(done.pubacks as number[]),
    roles: Object.fromEntries(
      stats.map((st, i) => {
        const r = instrumented[i]!;
        return [
          r.role.replace(/^rules-/, ''),
          {
            cores: Math.round((st.cpuS / (st.wallMs / 1000)) * 100) / 100,
            eventLoopDelayMs: st.eventLoopDelayMs,
            longTurns: st.longTurns,
            streamEvaluationUs: st.streamEvaluation.meanUs,
            scheduledEvaluation: st.scheduledEvaluation,
            storageWrites: st.storageWrites,
            ...(st.spoolDepth !== undefined ? { spoolDepth: st.spoolDepth } : {}),
          },
        ];
      }),
    ),
    otherAlerts: done.otherAlerts as Record<string, number>,
    cpu,
    load1,
    busiest: top,
    samples,
  };
  if (loadResult) {
    const acked = Number(loadResult.acked);
    result.load = { acked, skipped: Number(loadResult.skipped), errors: Number(loadResult.errors), ackedPerS: Math.round(acked / (Number(loadResult.publishMs) / 1000)), puback: loadResult.puback as Record<string, number> };
  }
  const worst = Object.entries(result.roles).map(([k, v]) => `${k} ${v.cores} cores, event-loop delay p99 ${v.eventLoopDelayMs.p99} ms, ${v.longTurns.turns} turns over ${v.longTurns.overMs} ms`);
  log(`  ${name}: ${result.probes - result.missing}/${result.probes} alerts; latency p50 ${fmtMs(result.latency.p50)}, p99 ${fmtMs(result.latency.p99)}, max ${fmtMs(result.latency.max)} ms; accepted ${result.acceptedPerS}/s; ${worst.join('; ')}`);
  return result;
}

// ------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const started = Date.now();
  const info = machine();
  log(`rules bench: phases ${[...PHASES].join(',')}, topology ${TOPOLOGY}; results in ${relative(process.cwd(), outDir) || outDir}`);
  log(`machine: ${String(info.nproc)} cores (${String(info.cpuModel)}), ${String(info.memTotalGiB)} GiB, Node ${process.version}, load ${JSON.stringify(info.loadAtStart)}`);
  const phases: LatencyPhase[] = [];
  const failures: Array<{ phase: string; error: string; died?: string }> = [];
  let setup: Record<string, unknown> | undefined;

  if (PHASES.has('idle') || PHASES.has('load')) {
    const dataDir = join(tmp, 'server');
    const rulesDir = join(tmp, 'rules');
    mkdirSync(rulesDir, { recursive: true });
    const probeRules = join(rulesDir, 'probe.yaml');
    writeFileSync(probeRules, PROBE_RULES);
    const demoRules = join(DEFAULT_RULES_DIR, 'demo.yaml');
    const rulesArg = `${probeRules},${demoRules}`;
    const probeArgs = ['--hub', HUB, '--probe-sensor', PROBE.sensor];
    const logLevel = ['--log-level', opt['log-level'] ?? 'info', ...(opt['service-nodelay'] ? ['--service-nodelay', 'true'] : [])];
    const concurrency = [...(opt['aedes-concurrency'] ? ['--aedes-concurrency', opt['aedes-concurrency']] : []), '--forwarder-nice', String(Math.min(19, num('forwarder-nice', opt['forwarder-nice'])))];

    // Registry: the probe device, the hub member, the background devices (in parallel),
    // and in the split topology the service account of rules.
    const tReg = performance.now();
    const registry = Registry.open(dataDir);
    const probePw = (await registry.addSensor({ hub: HUB, domain: PROBE.domain, sensor: PROBE.sensor })).password;
    const memberPw = (await registry.addAccount({ name: PROBE.member, role: 'hub', hub: HUB })).password;
    const rulesPw = TOPOLOGY === 'split' ? (await registry.addAccount({ name: 'rules', role: 'service' })).password : '';
    const creds: BenchSensor[] = [];
    for (let i = 0; i < DEVICES; i += 32) {
      creds.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(32, DEVICES - i) }, async (_, k) => {
            const { domain, sensor } = sensorAt(i + k);
            const { password } = await registry.addSensor({ hub: HUB, domain, sensor });
            return { hub: HUB, domain, sensor, username: `${HUB}.${sensor}`, password };
          }),
        )),
      );
    }
    registry.close();
    const credFile = join(tmp, 'credentials.json');
    writeFileSync(credFile, JSON.stringify(creds), { mode: 0o600 });
    log(`registered ${DEVICES} background devices, the probe and the accounts in ${Math.round(performance.now() - tReg)} ms`);

    const spawn = (role: string, args: string[], env: NodeJS.ProcessEnv = process.env): RoleProcess => {
      // The system under test may die under load: that fails the phase, not the run.
      const underTest = role === 'rules-server' || role === 'rules-broker' ? nodeFlagsUnderTest() : role === 'rules-probe' ? PROBE_NODE_FLAGS : [];
      return watch(RoleProcess.spawn(role, { args, nodeFlags: [...profileFlags(role.replace(/^rules-/, '')), ...underTest], logFile: logFile(role.replace(/^rules-/, '')), env }), role === 'rules-probe');
    };
    const instrumented: RoleProcess[] = [];
    let brokerUrl: string;
    if (TOPOLOGY === 'all-in-one') {
      const server = spawn('rules-server', ['--data-dir', dataDir, '--rules', rulesArg, ...probeArgs, '--probe-rule', PROBE.rule, ...logLevel, ...concurrency]);
      const ready = await server.waitFor((m) => m.type === 'ready', 120_000, 'ready');
      brokerUrl = `mqtt://127.0.0.1:${String((ready.ports as { mqtt: number }).mqtt)}`;
      tracked.push({ role: 'server', pid: server.pid });
      instrumented.push(server);
      log(`server (steward start without the simulator) at ${brokerUrl}, pid ${server.pid}`);
    } else {
      const broker = spawn('rules-broker', ['--data-dir', dataDir, ...probeArgs, '--probe-rule', PROBE.rule, ...logLevel, ...concurrency]);
      const ready = await broker.waitFor((m) => m.type === 'ready', 120_000, 'ready');
      brokerUrl = `mqtt://127.0.0.1:${String((ready.ports as { mqtt: number }).mqtt)}`;
      tracked.push({ role: 'broker', pid: broker.pid });
      // One data dir for both, as on one host running the two commands with one config.
      const rules = spawn('rules-standalone', ['--data-dir', dataDir, '--broker-url', brokerUrl, '--rules', rulesArg, ...probeArgs, ...logLevel], { ...process.env, BENCH_RULES_PASSWORD: rulesPw });
      await rules.waitFor((m) => m.type === 'ready', 120_000, 'ready');
      tracked.push({ role: 'rules', pid: rules.pid });
      instrumented.push(broker, rules);
      log(`split: node at ${brokerUrl} (pid ${broker.pid}), rules pid ${rules.pid}`);
    }

    const probe = spawn('rules-probe', ['--broker-url', brokerUrl, '--hub', HUB, '--domain', PROBE.domain, '--sensor', PROBE.sensor, '--rule', PROBE.rule, '--member', PROBE.member, '--nodelay', String(opt.nodelay)], {
      ...process.env,
      BENCH_PROBE_DEVICE_PASSWORD: probePw,
      BENCH_PROBE_MEMBER_PASSWORD: memberPw,
    });
    await probe.waitFor((m) => m.type === 'ready', 60_000, 'ready');
    tracked.push({ role: 'probe', pid: probe.pid });

    let load: RoleProcess | undefined;
    if (PHASES.has('load')) {
      load = watch(RoleProcess.spawn('load', { args: ['--broker-url', brokerUrl, '--credentials', credFile, '--max-inflight', String(MAX_INFLIGHT)], nodeFlags: profileFlags('load'), logFile: logFile('load') }));
      if (LOAD_NICE) setPriority(load.pid, LOAD_NICE);
      const lr = await load.waitFor((m) => m.type === 'ready', DEVICES * 200 + 120_000, 'ready');
      tracked.push({ role: 'load', pid: load.pid });
      log(`connected ${DEVICES - Number(lr.failed)}/${DEVICES} background devices in ${String(lr.connectMs)} ms`);
    }
    setup = { topology: TOPOLOGY, devices: DEVICES, rates: RATES, maxInflight: MAX_INFLIGHT, probeHz: HZ, probeNoDelay: opt.nodelay, probeNodeFlags: PROBE_NODE_FLAGS, serviceNoDelay: opt['service-nodelay'], logLevel: opt['log-level'], aedesConcurrency: opt['aedes-concurrency'] ?? "Steward's (0: no emitter queue)", forwarderNice: Number(opt['forwarder-nice']), loadNice: LOAD_NICE, rules: [relative(repo, demoRules), 'probe.yaml'], probeRules: PROBE_RULES };

    const plan: Array<[string, number]> = [...(PHASES.has('idle') ? [['idle', 0] as [string, number]] : []), ...(PHASES.has('load') ? RATES.map((r): [string, number] => [`load@${r}`, r]) : [])];
    for (const [name, rate] of plan) {
      try {
        phases.push(await latencyPhase(name, rate, instrumented, probe, rate > 0 ? load : undefined, rate > 0 ? DURATION : IDLE_S));
      } catch (err) {
        const dead = [...died.values()].join('\n');
        failures.push({ phase: name, error: (err as Error).message, ...(dead ? { died: dead } : {}) });
        log(`  ${name} failed: ${(err as Error).message}`);
        if (died.size) break; // the system under test is gone: no further latency phase
      }
    }
    await load?.stop();
    await probe.stop();
    for (const r of [...instrumented].reverse()) await r.stop(30_000);
  }

  const throughput: Record<string, unknown>[] = [];
  if (PHASES.has('throughput')) {
    for (const set of SETS) {
      log(`throughput: rule set "${set}", ${opt.readings ?? ''} readings from ${opt['eval-sensors'] ?? ''} sensors`);
      const dir = join(tmp, `eval-${set}`);
      const t0 = performance.now();
      const r = watch(
        RoleProcess.spawn('rules-eval', {
          args: ['--dir', dir, '--set', set, '--rules', opt.rules ?? '1000', '--sensors', opt['eval-sensors'] ?? '400', '--readings', opt.readings ?? '200000', '--evaluations', opt.evaluations ?? '5', '--batch', opt.batch ?? '1'],
          nodeFlags: profileFlags('eval'),
          logFile: logFile(`eval-${set}`),
        }),
      );
      const res = await r.waitFor((m) => m.type === 'result', 300_000, 'result');
      const stats = procStats(r.pid);
      await r.stop();
      const { type: _type, ...figures } = res;
      throughput.push({ ...figures, peakRssMiB: stats?.peakRssMiB, wallS: Math.round((performance.now() - t0) / 100) / 10 });
      log(`  ${set}: ${String(res.rules)} rules: ${String(res.readingsPerS)} readings/s (${String(res.usPerReading)} µs each); evaluate() median ${String(res.evaluationMedianMs)} ms (${JSON.stringify(res.evaluationByModeMs)})`);
    }
  }

  const result = {
    command: `node --import tsx bench/rules.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date(started).toISOString(),
    wallS: Math.round((Date.now() - started) / 1000),
    machine: info,
    loadAtEnd: loadAverage(),
    setup,
    latency: phases,
    failures,
    throughput,
  };
  finish(result, markdown(result), result.wallS);
}

/** The run as Markdown tables (pasted into docs/benchmarks.md). */
function markdown(r: {
  command: string;
  machine: Record<string, unknown>;
  loadAtEnd: Record<string, number>;
  setup: Record<string, unknown> | undefined;
  latency: LatencyPhase[];
  failures: Array<{ phase: string; error: string; died?: string }>;
  throughput: Record<string, unknown>[];
}): string {
  const m = r.machine;
  const la = m.loadAtStart as Record<string, number>;
  const f = (s: Summary): string => `${fmtMs(s.p50)} / ${fmtMs(s.p99)} / ${fmtMs(s.max)}`;
  const lines = [
    `Command: \`${r.command}\``,
    '',
    `Machine: ${String(m.nproc)} cores, ${String(m.cpuModel)}, ${String(m.memTotalGiB)} GiB RAM, Node ${String(m.node)}; roles from ${String(m.roles)}; load average ${la.load1}/${la.load5}/${la.load15} at start, ${r.loadAtEnd.load1}/${r.loadAtEnd.load5}/${r.loadAtEnd.load15} at end.`,
    '',
  ];
  const st = r.setup;
  if (st) {
    lines.push(
      `Setup: topology ${String(st.topology)}; ${String(st.devices)} background devices; probe ${String(st.probeHz)}/s (TCP_NODELAY ${st.probeNoDelay ? 'on' : 'off'}, Node flags ${(st.probeNodeFlags as string[] | undefined)?.join(' ') || 'none'}); service connections TCP_NODELAY ${st.serviceNoDelay ? 'on (experiment)' : 'off (as Steward)'}; Aedes concurrency ${String(st.aedesConcurrency)}; log level ${String(st.logLevel)}; load generator nice ${String(st.loadNice ?? 0)}.`,
      '',
    );
  }
  if (r.latency.length) {
    lines.push(
      '| phase | topology | background offered / accepted /s | alerts (late > 5 s) | publish→alert p50 / p99 / max ms | firing p50 / p99 | resolved p50 / p99 | load1 |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const p of r.latency) {
      lines.push(`| ${p.phase} | ${p.topology} | ${p.offeredPerS} / ${p.acceptedPerS} | ${p.probes} (${p.missing}) | ${f(p.latency)} | ${fmtMs(p.firing.p50)} / ${fmtMs(p.firing.p99)} | ${fmtMs(p.resolved.p50)} / ${fmtMs(p.resolved.p99)} | ${p.load1} |`);
    }
    const stages = Object.keys(r.latency[0]?.stages ?? {});
    lines.push('', '| phase | ' + stages.map((s) => `${s} p50 / p99 / max ms`).join(' | ') + ' | probe PUBACK p50 / p99 ms |', '|---|' + stages.map(() => '---').join('|') + '|---|');
    for (const p of r.latency) lines.push(`| ${p.phase} | ` + stages.map((s) => (p.stages[s] ? f(p.stages[s]) : '–')).join(' | ') + ` | ${fmtMs(p.probePuback.p50)} / ${fmtMs(p.probePuback.p99)} |`);
    const roles = Object.keys(r.latency[0]?.roles ?? {});
    lines.push(
      '',
      '| phase | ' + roles.map((x) => `${x}: cores, event-loop delay p50 / p99 / max ms`).join(' | ') + ' | load generator cores | background PUBACK p50 / p99 ms | skipped |',
      '|---|' + roles.map(() => '---').join('|') + '|---|---|---|',
    );
    for (const p of r.latency) {
      const cells = roles.map((x) => {
        const v = p.roles[x];
        return v ? `${v.cores}, ${v.eventLoopDelayMs.p50} / ${v.eventLoopDelayMs.p99} / ${v.eventLoopDelayMs.max}` : '–';
      });
      lines.push(`| ${p.phase} | ${cells.join(' | ')} | ${p.cpu.load?.cores ?? '–'} | ${p.load ? `${String(p.load.puback.p50)} / ${String(p.load.puback.p99)}` : '–'} | ${p.load?.skipped ?? '–'} |`);
    }
    const over = Object.values(r.latency[0]?.roles ?? {})[0]?.longTurns.overMs ?? '–';
    lines.push('', `| phase | process | main-thread turns over ${over} ms | their total ms | of which on a CPU / waiting for a CPU ms |`, '|---|---|---|---|---|');
    for (const p of r.latency) {
      for (const [x, v] of Object.entries(p.roles)) {
        const t = v.longTurns;
        lines.push(`| ${p.phase} | ${x} | ${t.turns} | ${t.ms} | ${t.onCpuMs ?? '–'} / ${t.waitingForCpuMs ?? '–'} |`);
      }
    }
    lines.push('', '| phase | process | stream evaluation µs per call | scheduled evaluations (runs, ms per s) | storage writes (n, mean ms) | spool at end |', '|---|---|---|---|---|---|');
    for (const p of r.latency) {
      for (const [x, v] of Object.entries(p.roles)) {
        if (v.streamEvaluationUs === null && !v.storageWrites.writes && !v.scheduledEvaluation.runs) continue;
        lines.push(`| ${p.phase} | ${x} | ${v.streamEvaluationUs ?? '–'} | ${v.scheduledEvaluation.runs}, ${v.scheduledEvaluation.msPerS} | ${v.storageWrites.writes}, ${v.storageWrites.meanMs ?? '–'} | ${v.spoolDepth ?? '–'} |`);
      }
    }
  }
  for (const x of r.failures) lines.push('', `Phase ${x.phase} failed: ${x.error}`, ...(x.died ? ['', '```', x.died, '```'] : []));
  if (r.throughput.length) {
    lines.push(
      '',
      '| rule set | rules (windowed) | sensors | readings (per call) | readings/s through onReadings | µs/reading | evaluate() median / first ms | of which window / deadman ms | listSensors ms | transitions | peak RSS MiB |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const t of r.throughput) {
      const byMode = t.evaluationByModeMs as { window: number; deadman: number };
      lines.push(
        `| ${String(t.set)} | ${String(t.rules)} (${String(t.windowedRules)}) | ${String(t.sensors)} | ${String(t.readings)} (${String(t.batch)}) | ${String(t.readingsPerS)} | ${String(t.usPerReading)} | ${String(t.evaluationMedianMs)} / ${String(t.evaluationFirstMs)} | ${byMode.window} / ${byMode.deadman} | ${String(t.listSensorsMs)} | ${String(Number(t.transitionsWhileFeeding) + Number(t.transitionsAfterEvaluations))} | ${String(t.peakRssMiB)} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

await run(main);
