/**
 * The reconnect-storm benchmark: N registered devices connect at once to a Steward node (the
 * node's own process, wired as `steward broker` runs it: bench/roles/node.ts, embedded store), the
 * node is restarted, and every device reconnects by itself at once. Measures how long until all N
 * are connected again (from the restart, and from the moment the new node listens), the node's
 * resident memory with all N connected, and its CPU during the storm.
 *
 *   node --import tsx bench/storm.ts --devices 10000 --registry-cache ~/.cache/steward-bench/fleet-10000
 *
 * Registering the fleet hashes one secret per device with whatever the registry uses (scrypt: ~3
 * min for 10,000 on 2 cores); `--registry-cache` keeps it for later runs. A cache is only valid
 * for the registry code that wrote it (a registry that stores secrets differently needs a fresh
 * one: use a new directory). The devices run in `--generators` processes (bench/roles/storm.ts),
 * each with its share of mqtt.js clients and mqtt.js's reconnect behaviour: CONNACK awaited up to
 * `--connect-timeout-s` (mqtt.js default 30), then a new attempt every `--reconnect-s` (1).
 * Results: bench/results/storm-<time>/ (result.json, summary.md, logs).
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { freePort } from '../tests/harness/services.ts';
import { registerFleet } from './lib/fleet.ts';
import { loadAverage, machineInfo, procStats, round1, RoleProcess, startBenchRun, type ProcStats, type RoleMessage } from './lib/proc.ts';
import { benchArgs, ROLES_FROM_HELP, ROLES_FROM_OPTION } from './lib/args.ts';

const HELP = `Usage: node --import tsx bench/storm.ts [options]

  --devices N              registered devices, each its own MQTT connection (default 10000)
  --generators G           load processes sharing the devices (default 4)
  --max-connections M      mqtt.maxConnections of the node (default N + 2000: headroom over
                           the config default of 10,000)
  --connect-timeout-s S    a device's wait for CONNACK before it tries again (default 30, mqtt.js's)
  --reconnect-s S          a device's pause between attempts (default 1, mqtt.js's)
  --restart MODE           graceful (SIGTERM-like stop, as systemd restart) or kill (kill -9)
                           (default graceful)
  --hold-s S               seconds with all devices connected before the restart, and after the
                           storm, RSS sampled (default 10)
  --publish-rate R         readings/s (QoS 0, spread over the connected devices) during each
                           hold, to show a connected fleet works (default 0)
  --timeout-s S            give up a connect wave after S seconds (default 900)
  --hash-batch B           registrations hashed in parallel (default 32)
  --registry-cache DIR     keep the registered fleet in DIR and reuse it when N matches
  --register-only          register the fleet into --registry-cache and stop
  --profile                run the restarted node under --cpu-prof (summary: bench/profile-summary.ts)
  --out DIR                results root (default bench/results)
${ROLES_FROM_HELP}
  -h, --help
`;

const { opt, num, fail, rolesFrom } = benchArgs(HELP, {
  ...ROLES_FROM_OPTION,
  devices: { type: 'string', default: '10000' },
  generators: { type: 'string', default: '4' },
  'max-connections': { type: 'string' },
  'connect-timeout-s': { type: 'string', default: '30' },
  'reconnect-s': { type: 'string', default: '1' },
  restart: { type: 'string', default: 'graceful' },
  'hold-s': { type: 'string', default: '10' },
  'publish-rate': { type: 'string', default: '0' },
  'timeout-s': { type: 'string', default: '900' },
  'hash-batch': { type: 'string', default: '32' },
  'registry-cache': { type: 'string' },
  'register-only': { type: 'boolean', default: false },
  profile: { type: 'boolean', default: false },
  out: { type: 'string' },
});
const N = num('devices', opt.devices, 1);
const G = Math.min(N, num('generators', opt.generators, 1));
const MAX_CONN = opt['max-connections'] !== undefined ? num('max-connections', opt['max-connections'], 1) : N + 2000;
const CONNECT_TIMEOUT_MS = num('connect-timeout-s', opt['connect-timeout-s'], 1) * 1000;
const RECONNECT_MS = num('reconnect-s', opt['reconnect-s'], 0.1) * 1000;
const HOLD_S = num('hold-s', opt['hold-s']);
const PUBLISH_RATE = num('publish-rate', opt['publish-rate']);
const TIMEOUT_MS = num('timeout-s', opt['timeout-s'], 1) * 1000;
if (opt.restart !== 'graceful' && opt.restart !== 'kill') fail(`--restart: "${opt.restart}" is not graceful or kill`);
const RESTART = opt.restart;

const { outDir, tmp, log, watch, main: run, finish } = startBenchRun({ name: 'storm', out: opt.out, tmpPrefix: 'steward-bench-storm-', rolesFrom: rolesFrom(opt['roles-from']) });
const nodeDir = join(tmp, 'node');

/** The node process (bench/roles/node.ts, embedded store) on a fixed port, so devices find it again. */
async function startNode(port: number, name: string, profile: boolean): Promise<{ node: RoleProcess; spawnedAt: number; readyAt: number }> {
  const spawnedAt = Date.now();
  const node = watch(
    RoleProcess.spawn('node', {
      args: ['--data-dir', nodeDir, '--port', String(port), '--max-connections', String(MAX_CONN), '--stats-ms', '1000'],
      nodeFlags: profile ? ['--cpu-prof', '--cpu-prof-dir', join(outDir, 'node-profile')] : [],
      logFile: join(outDir, `${name}.log`),
    }),
  );
  await node.waitFor((m) => m.type === 'ready', 120_000, 'ready');
  return { node, spawnedAt, readyAt: Date.now() };
}

/** Waits until the generators report all N connected; returns when, and the curve. */
async function waitAllConnected(gens: RoleProcess[], since: number, label: string): Promise<{ doneAt: number | undefined; curve: Array<[number, number]>; last: Record<string, unknown> }> {
  const latest = new Map<RoleProcess, RoleMessage>();
  const offs = gens.map((g) => g.onMessage((m) => m.type === 'stats' && latest.set(g, m)));
  const curve: Array<[number, number]> = [];
  const until = Date.now() + TIMEOUT_MS;
  let lastLog = 0;
  let doneAt: number | undefined;
  const sum: Record<string, number> = { connected: 0, connacks: 0, closes: 0, errors: 0 };
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      for (const k of Object.keys(sum)) sum[k] = 0;
      for (const m of latest.values()) for (const k of Object.keys(sum)) sum[k]! += Number(m[k] ?? 0);
      const t = Date.now() - since;
      if (!curve.length || curve.at(-1)![1] !== sum.connected) curve.push([Math.round(t / 100) / 10, sum.connected!]);
      if (latest.size === gens.length && sum.connected === N) {
        // The generators report every 500 ms: take the report time of the last one to reach N.
        doneAt = Math.max(...[...latest.values()].map((m) => Number(m.t)));
        break;
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  ${label}: ${String(sum.connected)}/${N} connected after ${Math.round(t / 1000)} s (CONNACKs ${String(sum.connacks)}, closes ${String(sum.closes)}, errors ${String(sum.errors)})`);
      }
      if (Date.now() > until) break;
    }
  } finally {
    for (const off of offs) off();
  }
  const errorKinds: Record<string, number> = {};
  for (const m of latest.values()) for (const [k, v] of Object.entries((m.errorKinds as Record<string, number>) ?? {})) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  return { doneAt, curve, last: { ...sum, errorKinds } };
}

async function hold(gens: RoleProcess[], node: RoleProcess): Promise<{ rss: ProcStats | undefined; clients: number; published: number }> {
  let published = 0;
  if (PUBLISH_RATE > 0) {
    const share = PUBLISH_RATE / gens.length;
    const res = await Promise.all(gens.map((g) => g.request('publish', { rate: share, durationS: HOLD_S }, (HOLD_S + 60) * 1000)));
    published = res.reduce((n, r) => n + Number(r.sent), 0);
  } else await new Promise((r) => setTimeout(r, HOLD_S * 1000));
  const clients = Number((await node.request('clients')).connected);
  return { rss: procStats(node.pid), clients, published };
}

/** Counters of `b` minus those of `a` (numbers and the `errorKinds` record). */
function since(b: Record<string, unknown>, a: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === 'number') out[k] = v - Number(a[k] ?? 0);
    else if (k === 'errorKinds') {
      const prev = (a[k] ?? {}) as Record<string, number>;
      out[k] = Object.fromEntries(Object.entries(v as Record<string, number>).map(([e, n]) => [e, n - (prev[e] ?? 0)]).filter(([, n]) => Number(n) > 0));
    } else out[k] = v;
  }
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo() as { nproc: number; cpuModel: string; memTotalGiB: number; node: string; commit: string; roles: string; loadAtStart: Record<string, number> };
  log(`storm bench: ${N} devices in ${G} generator processes; node maxConnections ${MAX_CONN}; restart ${RESTART}; results in ${relative(process.cwd(), outDir)}`);
  log(`machine: ${machine.nproc} cores, load ${JSON.stringify(machine.loadAtStart)}`);
  const { secrets, registration } = await registerFleet({ dir: nodeDir, n: N, batch: Math.max(1, num('hash-batch', opt['hash-batch'], 1)), cache: opt['registry-cache'], noun: 'devices', log });
  const { creds } = secrets;
  if (opt['register-only']) {
    log(`registered; ${opt['registry-cache'] ? `kept in ${opt['registry-cache']}` : 'not kept (no --registry-cache)'}`);
    return;
  }
  const port = await freePort();

  // First start: a fresh node, every device connecting at once.
  let { node } = await startNode(port, 'node-first', false);
  log(`node listening on ${port} (pid ${node.pid}); starting ${N} devices at once`);
  const url = `mqtt://127.0.0.1:${port}`;
  const gens: RoleProcess[] = [];
  const per = Math.ceil(N / G);
  for (let i = 0; i < G; i++) {
    const file = join(tmp, `creds-${i}.json`);
    writeFileSync(file, JSON.stringify(creds.slice(i * per, (i + 1) * per)), { mode: 0o600 });
    gens.push(watch(RoleProcess.spawn('storm', { args: ['--broker-url', url, '--credentials', file, '--connect-timeout-ms', String(CONNECT_TIMEOUT_MS), '--reconnect-ms', String(RECONNECT_MS)], logFile: join(outDir, `storm-${i}.log`) })));
  }
  const gensStarted = Date.now();
  await Promise.all(gens.map((g) => g.waitFor((m) => m.type === 'ready', 120_000, 'ready')));
  const cpu0 = procStats(node.pid);
  const first = await waitAllConnected(gens, gensStarted, 'first connect');
  const firstCpu = procStats(node.pid);
  const firstMs = first.doneAt !== undefined ? first.doneAt - gensStarted : undefined;
  log(first.doneAt !== undefined ? `first connect: all ${N} connected ${firstMs} ms after the devices started` : `first connect: gave up after ${TIMEOUT_MS / 1000} s with ${String(first.last.connected)}/${N}`);
  const firstHold = await hold(gens, node);
  log(`  node with ${firstHold.clients} clients: RSS ${String(firstHold.rss?.rssMiB)} MiB (peak ${String(firstHold.rss?.peakRssMiB)} MiB)`);

  // Restart: the devices reconnect by themselves.
  const restartAt = Date.now();
  if (RESTART === 'kill') node.kill();
  else await node.stop(60_000);
  await node.exited;
  const stoppedAt = Date.now();
  log(`node ${RESTART === 'kill' ? 'killed (-9)' : 'stopped'} in ${stoppedAt - restartAt} ms; starting it again`);
  const restarted = await startNode(port, 'node-restarted', opt.profile === true);
  node = restarted.node;
  const readyAt = restarted.readyAt;
  log(`node listening again ${readyAt - restartAt} ms after the restart began (pid ${node.pid})`);
  const storm = await waitAllConnected(gens, restartAt, 'reconnect storm');
  const stormCpu = procStats(node.pid);
  const after = await hold(gens, node);
  const result = {
    command: `node --import tsx bench/storm.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date(started).toISOString(),
    machine,
    loadAtEnd: loadAverage(),
    settings: { devices: N, generators: G, maxConnections: MAX_CONN, connectTimeoutMs: CONNECT_TIMEOUT_MS, reconnectMs: RECONNECT_MS, restart: RESTART, holdS: HOLD_S, publishRate: PUBLISH_RATE },
    registration,
    first: { allConnectedMs: firstMs, nodeCpuS: cpu0 && firstCpu ? round1(firstCpu.cpuS - cpu0.cpuS) : undefined, curve: first.curve, counters: first.last, hold: firstHold },
    restart: {
      stopMs: stoppedAt - restartAt,
      listeningMs: readyAt - restartAt,
      allConnectedFromRestartMs: storm.doneAt !== undefined ? storm.doneAt - restartAt : undefined,
      allConnectedFromListeningMs: storm.doneAt !== undefined ? storm.doneAt - readyAt : undefined,
      nodeCpuS: stormCpu?.cpuS,
      curve: storm.curve,
      // The generators count from their start: the restart's own share is the difference.
      counters: since(storm.last, first.last),
      hold: after,
    },
  };
  log(
    storm.doneAt !== undefined
      ? `reconnect storm: all ${N} connected ${storm.doneAt - restartAt} ms after the restart began (${storm.doneAt - readyAt} ms after the node listened); node RSS ${String(after.rss?.rssMiB)} MiB with ${after.clients} clients (peak ${String(after.rss?.peakRssMiB)} MiB)`
      : `reconnect storm: gave up after ${TIMEOUT_MS / 1000} s with ${String(storm.last.connected)}/${N} connected`,
  );
  for (const g of gens) await g.stop(30_000);
  await node.stop(60_000);
  finish(result, markdown(result), Math.round((Date.now() - started) / 1000));
}

function markdown(r: {
  command: string;
  machine: { nproc: number; cpuModel: string; memTotalGiB: number; node: string; commit: string; roles: string; loadAtStart: Record<string, number> };
  loadAtEnd: Record<string, number>;
  registration: Record<string, unknown>;
  first: { allConnectedMs: number | undefined; nodeCpuS: number | undefined; counters: Record<string, unknown>; hold: { rss: ProcStats | undefined; clients: number } };
  restart: { stopMs: number; listeningMs: number; allConnectedFromRestartMs: number | undefined; allConnectedFromListeningMs: number | undefined; nodeCpuS: number | undefined; counters: Record<string, unknown>; hold: { rss: ProcStats | undefined; clients: number } };
}): string {
  const m = r.machine;
  const s = (ms: number | undefined): string => (ms === undefined ? `not all within ${TIMEOUT_MS / 1000} s` : `${(ms / 1000).toFixed(1)} s`);
  const reg = r.registration;
  return [
    `Command: \`${r.command}\``,
    '',
    `Machine: ${m.nproc} cores, ${m.cpuModel}, ${m.memTotalGiB} GiB RAM, Node ${m.node}; commit ${m.commit}, roles from ${m.roles}; load average ${m.loadAtStart.load1}/${m.loadAtStart.load5}/${m.loadAtStart.load15} at start, ${r.loadAtEnd.load1}/${r.loadAtEnd.load5}/${r.loadAtEnd.load15} at end.`,
    '',
    `Registration: ${reg.ms === undefined ? `${String(reg.devices)} devices reused from ${String(reg.reused)}` : `${String(reg.devices)} devices in ${String(reg.ms)} ms (${String(reg.perSecond)}/s)`}.`,
    '',
    '| wave | all connected after | node CPU s | CONNACKs / closes / errors | node clients | node RSS / peak MiB |',
    '|---|---|---|---|---|---|',
    `| first start (${N} devices at once) | ${s(r.first.allConnectedMs)} | ${String(r.first.nodeCpuS)} | ${String(r.first.counters.connacks)} / ${String(r.first.counters.closes)} / ${String(r.first.counters.errors)} | ${r.first.hold.clients} | ${String(r.first.hold.rss?.rssMiB)} / ${String(r.first.hold.rss?.peakRssMiB)} |`,
    `| restart (${RESTART}): from the restart | ${s(r.restart.allConnectedFromRestartMs)} (stop ${(r.restart.stopMs / 1000).toFixed(1)} s, listening after ${(r.restart.listeningMs / 1000).toFixed(1)} s) | ${String(r.restart.nodeCpuS)} | ${String(r.restart.counters.connacks)} / ${String(r.restart.counters.closes)} / ${String(r.restart.counters.errors)} | ${r.restart.hold.clients} | ${String(r.restart.hold.rss?.rssMiB)} / ${String(r.restart.hold.rss?.peakRssMiB)} |`,
    `| restart: from the node listening | ${s(r.restart.allConnectedFromListeningMs)} | | | | |`,
    '',
    `Errors seen by the devices: first ${JSON.stringify(r.first.counters.errorKinds)}, restart ${JSON.stringify(r.restart.counters.errorKinds)}.`,
    '',
  ].join('\n');
}

await run(main);
