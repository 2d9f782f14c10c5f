/**
 * Integration-test harness: real InfluxDB 1.x, VictoriaMetrics, Mosquitto and Redis
 * as child processes on free loopback ports, each in its own temporary
 * directory, with their output captured in a log file in that directory.
 *
 * Every start function waits until the service answers, every handle's
 * `stop()` sends SIGTERM, then SIGKILL after a timeout, and removes the temp
 * directory. {@link stopAll} stops everything this module started, and a
 * process `exit` hook SIGKILLs whatever is left so a failed run leaves no
 * orphans. Vitest may end a fork worker with a signal, in which case no `exit`
 * hook runs; for that case every child is also recorded in a pid file and
 * {@link sweepOrphans} (called from the global setup) kills the children of
 * dead test workers.
 *
 * Things learned while writing this (Debian 12 packages):
 *
 * - influxd 1.6.7 is ready in ~100 ms, stops in a few ms on SIGTERM, and
 *   answers 404 to `/api/v2/write` (that endpoint arrived in 1.8). Its RPC
 *   service binds 127.0.0.1:8088 unless the top-level `bind-address` is set.
 *   It reads `INFLUXDB_*` environment variables as config overrides, so those
 *   are removed from the child's environment.
 * - mosquitto 2.0.11 started as root drops privileges to the `mosquitto` user
 *   and then cannot read password/ACL files in our 0700 temp dir ("Unable to
 *   open pwfile"), so the generated config says `user root` when we are root.
 * - VictoriaMetrics 1.79.5: see {@link VmHandle.exportSeries} for metric
 *   naming and the two visibility traps (flush, and the default `end`).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

// ---------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------

/** The external programs the integration tests need, mapped to the Debian package providing each. */
export const REQUIRED_BINARIES = {
  influxd: 'influxdb',
  mosquitto: 'mosquitto',
  mosquitto_pub: 'mosquitto-clients',
  mosquitto_sub: 'mosquitto-clients',
  'victoria-metrics': 'victoria-metrics',
  'redis-server': 'redis-server',
} as const;

/** Name of one of the {@link REQUIRED_BINARIES}. */
export type RequiredBinary = keyof typeof REQUIRED_BINARIES;

/** Directories searched after `$PATH` (mosquitto lives in /usr/sbin, often absent from a non-root PATH). */
const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Find an executable by name in `$PATH`, then in the usual sbin/bin directories.
 *
 * @param name - program name (a name containing `/` is returned as is if executable)
 * @returns the absolute path, or `undefined` if not found
 */
export function resolveBinary(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS].map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * List the {@link REQUIRED_BINARIES} that cannot be found.
 *
 * @returns one entry per missing program with the Debian package that provides it
 */
export function missingBinaries(): Array<{ binary: RequiredBinary; debianPackage: string }> {
  return (Object.keys(REQUIRED_BINARIES) as RequiredBinary[])
    .filter((b) => resolveBinary(b) === undefined)
    .map((binary) => ({ binary, debianPackage: REQUIRED_BINARIES[binary] }));
}

function requireBinary(name: string): string {
  const path = resolveBinary(name);
  if (path === undefined) {
    const pkg = (REQUIRED_BINARIES as Record<string, string>)[name];
    throw new Error(`'${name}' not found in PATH or sbin directories${pkg ? ` (install the Debian package '${pkg}', or run scripts/test.sh as root)` : ''}`);
  }
  return path;
}

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Where test processes claim the ports they hand out (one file per port, holding the claimer's pid). */
const PORT_CLAIMS = join(tmpdir(), 'steward-test-ports');
/** Ports this process claimed; their claim files are removed when it exits. */
const myClaims = new Set<number>();
let claimsDirReady = false;

/**
 * The range {@link freePort} picks from: below the kernel's ephemeral range, which bind(0) and every
 * outgoing connection draw from. A port picked there can be taken by a node's own connection to
 * Redis or InfluxDB between the pick and the bind (a clean-clone run of the suite saw `listen EADDRINUSE`
 * on a cluster node's port).
 */
function portRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: keep the usual default
  }
  return ephemeralLow > 12_000 ? [10_000, ephemeralLow - 1] : [ephemeralLow - 2000, ephemeralLow - 1];
}

/** Claims `port` for this process across test workers; false if a live process holds it. */
function claimPort(port: number): boolean {
  const file = join(PORT_CLAIMS, String(port));
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Empty: its claimer is between creating and writing it, so it is taken.
    const owner = Number(readFileSync(file, 'utf8'));
    if (!(owner > 0) || owner === process.pid || alive(owner)) return false;
    try {
      unlinkSync(file); // left by a dead run
    } catch {
      // another process cleared it first
    }
  }
  return false;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Removes the port claims of test processes that are gone (forks ended by a signal run no exit hook). */
export function sweepPortClaims(): number {
  let removed = 0;
  let files: string[];
  try {
    files = readdirSync(PORT_CLAIMS);
  } catch {
    return 0;
  }
  for (const f of files) {
    const file = join(PORT_CLAIMS, f);
    try {
      const owner = Number(readFileSync(file, 'utf8'));
      if (!(owner > 0) || alive(owner)) continue;
      unlinkSync(file);
      removed++;
    } catch {
      // cleared by another process meanwhile
    }
  }
  return removed;
}

/**
 * A TCP port on 127.0.0.1 that is free now and stays out of other hands: it lies below the kernel's
 * ephemeral range (so no outgoing connection or bind(0) takes it), and it is claimed in a shared
 * directory so no other test worker picks it while this process lives.
 *
 * @returns a port number nobody else in the test run will be handed
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  if (!claimsDirReady) {
    claimsDirReady = true;
    mkdirSync(PORT_CLAIMS, { recursive: true });
    process.once('exit', () => {
      for (const p of myClaims) rmSync(join(PORT_CLAIMS, String(p)), { force: true });
    });
  }
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (myClaims.has(port) || !claimPort(port)) continue;
    myClaims.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error(`freePort: no free port found in ${low}-${high}`);
}

/** True when a TCP connection to 127.0.0.1:port succeeds within `timeoutMs`. */
function tcpConnects(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.removeAllListeners();
      sock.on('error', () => undefined);
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Status code of a GET, or 0 when the request fails. */
async function httpStatus(url: string, timeoutMs = 2000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** The last `maxLines` lines of a log file (empty string if unreadable). */
async function logTail(file: string, maxLines = 40, maxBytes = 16_384): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').slice(-maxLines).join('\n').trimEnd();
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

const TEMP_PREFIX = 'steward-';

async function makeTempDir(kind: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${kind}-`));
  tempDirs.add(dir);
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  tempDirs.delete(dir);
}

/** Environment for children: ours, minus variables a service would read as config overrides. */
function childEnv(dropPrefixes: string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!dropPrefixes.some((p) => k.startsWith(p))) env[k] = v;
  }
  return env;
}

const ADDRESS_IN_USE = /address already in use/i;

// ---------------------------------------------------------------------------
// Process tracking (stopAll, exit hook, pid files for the orphan sweeper)
// ---------------------------------------------------------------------------

interface Stoppable {
  stop(): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
const liveServices = new Set<Stoppable>();
const tempDirs = new Set<string>();
const pidFiles = new Set<string>();

/** Where each running service child is recorded, so {@link sweepOrphans} can find orphans. */
const PID_DIR = join(tmpdir(), 'steward-harness-pids');

function recordPid(pid: number, marker: string, cmd: string): string | undefined {
  try {
    mkdirSync(PID_DIR, { recursive: true });
    const file = join(PID_DIR, `${pid}.json`);
    writeFileSync(file, JSON.stringify({ pid, owner: process.pid, marker, cmd }));
    pidFiles.add(file);
    return file;
  } catch {
    return undefined; // best effort only
  }
}

function forgetPid(file: string | undefined): void {
  if (file === undefined) return;
  pidFiles.delete(file);
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

const EXIT_HOOK = Symbol.for('steward.harness.exitHook');
const g = globalThis as { [EXIT_HOOK]?: boolean };
if (!g[EXIT_HOOK]) {
  g[EXIT_HOOK] = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // ignore
      }
    }
    for (const file of pidFiles) {
      try {
        unlinkSync(file);
      } catch {
        // ignore
      }
    }
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // ignore
      }
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Kill service children left behind by test processes that died without running
 * their `exit` hook (e.g. a worker ended by a signal), and remove their temp dirs.
 * A child is only killed if its recorded owner process is gone and its
 * `/proc/<pid>/cmdline` still contains its temp dir, so concurrent test runs
 * and recycled pids are left alone. Cheap: reads one small directory.
 *
 * @param opts.includeOwnProcess - also treat children owned by the calling process as orphans
 *   (the vitest global teardown runs in the main process after all workers have finished)
 * @returns the pids killed
 */
export async function sweepOrphans(opts: { includeOwnProcess?: boolean } = {}): Promise<number[]> {
  const killed: number[] = [];
  let files: string[];
  try {
    files = await readdir(PID_DIR);
  } catch {
    return killed;
  }
  for (const name of files.filter((f) => f.endsWith('.json'))) {
    const file = join(PID_DIR, name);
    let rec: { pid: number; owner: number; marker: string };
    try {
      rec = JSON.parse(await readFile(file, 'utf8')) as typeof rec;
    } catch {
      continue;
    }
    const ownerGone = (opts.includeOwnProcess === true && rec.owner === process.pid) || !isAlive(rec.owner);
    if (!ownerGone) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
    } catch {
      // not running (or no /proc)
    }
    if (cmdline !== '' && rec.marker !== '' && cmdline.includes(rec.marker)) {
      try {
        process.kill(rec.pid, 'SIGKILL');
        killed.push(rec.pid);
      } catch {
        // ignore
      }
    }
    if (rec.marker.startsWith(join(tmpdir(), TEMP_PREFIX))) {
      await rm(rec.marker, { recursive: true, force: true }).catch(() => undefined);
    }
    await rm(file, { force: true }).catch(() => undefined);
  }
  return killed;
}

/**
 * Stop every service started by this module that is still running (in this process).
 * Safe to call more than once.
 */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...liveServices].map((s) => s.stop()));
}

// ---------------------------------------------------------------------------
// Managed child process
// ---------------------------------------------------------------------------

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** One long-running child whose stdout/stderr are appended to a log file. */
class ManagedProcess {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private lastExit: ExitInfo | undefined;

  readonly name: string;
  private readonly bin: string;
  private readonly args: string[];
  readonly logFile: string;
  private readonly marker: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(name: string, bin: string, args: string[], logFile: string, marker: string, env: NodeJS.ProcessEnv) {
    this.name = name;
    this.bin = bin;
    this.args = args;
    this.logFile = logFile;
    this.marker = marker;
    this.env = env;
  }

  get running(): boolean {
    return this.child !== undefined && this.lastExit === undefined;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Spawn the process (must not be running). */
  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    writeFileSync(this.logFile, `\n=== ${new Date().toISOString()} ${this.bin} ${this.args.join(' ')}\n`, { flag: 'a' });
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.bin, this.args, { stdio: ['ignore', fd, fd], cwd: this.marker, env: this.env });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.lastExit = undefined;
    liveChildren.add(child);
    const pidFile = child.pid !== undefined ? recordPid(child.pid, this.marker, this.bin) : undefined;
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      const finish = (info: ExitInfo): void => {
        if (this.child === child) this.lastExit = info;
        liveChildren.delete(child);
        forgetPid(pidFile);
        resolve(info);
      };
      child.once('exit', (code, signal) => finish({ code, signal }));
      child.once('error', (error) => finish({ code: null, signal: null, error }));
    });
  }

  /** Describe how the last run ended (for error messages). */
  exitDescription(): string {
    const e = this.lastExit;
    if (e === undefined) return 'still running';
    if (e.error) return `failed to spawn: ${e.error.message}`;
    return e.signal ? `killed by ${e.signal}` : `exited with code ${String(e.code)}`;
  }

  /** Wait until `probe` succeeds; throws (with the log tail) if the process dies or the timeout passes. */
  async waitReady(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 25;
    for (;;) {
      if (!this.running) {
        throw new Error(`${this.name} ${this.exitDescription()} during startup; log ${this.logFile}:\n${await logTail(this.logFile)}`);
      }
      if (await probe()) return;
      if (Date.now() > deadline) {
        await this.stop(2000);
        throw new Error(`${this.name} not ready after ${timeoutMs} ms; log ${this.logFile}:\n${await logTail(this.logFile)}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 250);
    }
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL without waiting. */
  kill9(): void {
    if (this.child !== undefined && this.running) this.child.kill('SIGKILL');
  }

  /** Resolves when the current (or last) run has exited. */
  async waitExit(): Promise<void> {
    await this.exitPromise;
  }
}

/**
 * Start `proc` and wait until ready. If it dies because its port was taken
 * (the free-port race), try again, up to `attempts` times; `beforeAttempt`
 * may pick new ports and rewrite config.
 */
async function startWithRetries(
  proc: () => ManagedProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  opts: { attempts?: number; beforeAttempt?: (attempt: number) => Promise<void>; retryDelayMs?: number } = {},
): Promise<void> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    await opts.beforeAttempt?.(attempt);
    const p = proc();
    p.start();
    try {
      await p.waitReady(probe, timeoutMs);
      return;
    } catch (err) {
      const portClash = ADDRESS_IN_USE.test(String((err as Error).message));
      if (!portClash || attempt >= attempts) throw err;
      await p.stop(1000);
      await sleep(opts.retryDelayMs ?? 100);
    }
  }
}

/** How {@link startService} runs one kind of service. */
interface ServiceSpec {
  /** The binary (one of {@link REQUIRED_BINARIES}); also the process name in errors. */
  bin: RequiredBinary;
  /** Temp dir name part, e.g. `influxdb` gives `steward-influxdb-XXXXXX`. */
  kind: string;
  /** Log file name inside the temp dir. */
  logName: string;
  /** URL scheme of the handle's `url`. */
  scheme: string;
  readyTimeoutMs: number;
  /** Environment variable prefixes the service would read as config overrides. */
  dropEnv?: string[];
  /** Runs once, before the first start, with the temp dir (e.g. to write a password file). */
  prepare?: (dir: string) => Promise<void> | void;
  /** Before each first-start attempt, with a fresh free port: writes the config, returns the arguments. */
  configure: (dir: string, port: number) => Promise<string[]> | string[];
  /** True once the service on `port` answers. */
  ready: (port: number) => Promise<boolean>;
  /** After the first successful start (e.g. CREATE DATABASE); if it throws, the service is stopped. */
  afterStart?: (url: string) => Promise<void>;
}

/**
 * One service child process and its lifecycle, shared by every handle: a temp dir, a port picked
 * at the first start and kept across restarts, stop/kill9/restart/pause/resume, the log tail.
 * Registered for {@link stopAll} while running.
 */
class Service implements Stoppable {
  port = 0;
  readonly logFile: string;
  private proc: ManagedProcess | undefined;
  private stopped = false;
  /** kill9() was called: the process may still be running for a moment, but it is going. */
  private killed = false;

  readonly dir: string;
  private readonly spec: ServiceSpec;

  constructor(dir: string, spec: ServiceSpec) {
    this.dir = dir;
    this.spec = spec;
    this.logFile = join(dir, spec.logName);
  }

  get url(): string {
    return `${this.spec.scheme}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** The running process's pid (undefined while it is down). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The first start: new ports until one is free, then `afterStart`. */
  async start(bin: string): Promise<void> {
    const { spec, dir } = this;
    const probe = (): Promise<boolean> => spec.ready(this.port);
    try {
      await spec.prepare?.(dir);
      await startWithRetries(this.current, probe, spec.readyTimeoutMs, {
        beforeAttempt: async () => {
          this.port = await freePort();
          const args = await spec.configure(dir, this.port);
          this.proc = new ManagedProcess(spec.bin, bin, args, this.logFile, dir, childEnv(spec.dropEnv));
        },
      });
      await spec.afterStart?.(this.url);
    } catch (err) {
      await this.proc?.stop(2000);
      await removeTempDir(dir);
      throw err;
    }
    liveServices.add(this);
  }

  private readonly current = (): ManagedProcess => {
    if (this.proc === undefined) throw new Error(`${this.spec.bin} not started`);
    return this.proc;
  };

  /** Stop gracefully (SIGTERM, SIGKILL after a timeout) and delete the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    liveServices.delete(this);
    await this.proc?.stop();
    await removeTempDir(this.dir);
  }

  /** SIGKILL now (a crash); the temp dir is kept. */
  kill9(): void {
    this.killed = true;
    this.proc?.kill9();
  }

  /** Start again on the same port and data (stops it first if running). */
  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`${this.spec.bin} handle was stopped; start a new one`);
    await this.current().stop();
    await this.current().waitExit();
    this.killed = false;
    // Same port and data: retry while the old socket lingers, but never move ports.
    await startWithRetries(this.current, () => this.spec.ready(this.port), this.spec.readyTimeoutMs, { attempts: 20, retryDelayMs: 250 });
  }

  /** Stop gracefully but keep the data (an outage). No-op if not running. */
  async pause(): Promise<void> {
    await this.proc?.stop();
  }

  /** Start again after pause or kill9 (even one whose exit is not yet seen). No-op if running. */
  async resume(): Promise<void> {
    if (this.killed || !this.running) await this.restart();
  }

  logTail(lines = 40): Promise<string> {
    return logTail(this.logFile, lines);
  }
}

/** What every service handle offers (the {@link Service} behind it); each handle adds its own methods. */
export interface ServiceHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234` or `mqtt://127.0.0.1:41234`. */
  readonly url: string;
  /** The port, picked at the first start and kept across restarts. */
  readonly port: number;
  /** Temp dir holding the config, the log and the data (kept across restarts). */
  readonly dir: string;
  /** Log file receiving the child's stdout and stderr. */
  readonly logFile: string;
  /** Whether the process is currently running. */
  readonly running: boolean;
  /** Pid of the process while it runs (for /proc figures). */
  readonly pid: number | undefined;
  /** Stop gracefully (SIGTERM, SIGKILL after a timeout) and delete the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now (a crash); the data is kept. {@link ServiceHandle.restart} or {@link ServiceHandle.resume} brings it back. */
  kill9(): void;
  /** Start again on the same port and data (stops it first if running). */
  restart(): Promise<void>;
  /** Stop gracefully but keep the data (an outage). No-op if not running. */
  pause(): Promise<void>;
  /** Start again after {@link ServiceHandle.pause} or {@link ServiceHandle.kill9}. No-op if running. */
  resume(): Promise<void>;
  /** Last lines of the log file. */
  logTail(lines?: number): Promise<string>;
}

/** POSTs line protocol to `url`; throws unless the server answers 204. */
async function postLines(url: string, lines: string | string[], server: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: Array.isArray(lines) ? lines.join('\n') : lines });
  const text = await res.text();
  if (res.status !== 204) throw new Error(`${server} write failed (${res.status}): ${text.trim()}`);
}

/** Start a service as `spec` says and wait until it answers; the caller adds its own methods. */
async function startService(spec: ServiceSpec): Promise<Service> {
  const bin = requireBinary(spec.bin);
  const svc = new Service(await makeTempDir(spec.kind), spec);
  await svc.start(bin);
  return svc;
}

// ---------------------------------------------------------------------------
// InfluxDB 1.x
// ---------------------------------------------------------------------------

/** One series of an InfluxQL result. */
export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

/** Result of one InfluxQL statement. */
export interface InfluxStatementResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
  messages?: Array<{ level: string; text: string }>;
}

/** Parsed JSON body of `/query`. */
export interface InfluxQueryResponse {
  results?: InfluxStatementResult[];
  error?: string;
}

/** Options for {@link startInfluxDB}. */
export interface InfluxOptions {
  /** Database to create once ready (default `steward`). */
  database?: string;
  /** How long to wait for `/ping` (default 30 s). */
  readyTimeoutMs?: number;
  /** Extra `[data]` settings, e.g. `{ 'cache-snapshot-write-cold-duration': '"5s"' }` (values as TOML). */
  data?: Record<string, string>;
}

/** A running (or paused) `influxd` 1.x. */
export interface InfluxHandle extends ServiceHandle {
  /** The database created at start. */
  readonly database: string;
  /** The temp dir ({@link ServiceHandle.dir}): influxdb.conf, influxd.log and the meta/, data/, wal/ dirs. */
  readonly dataDir: string;
  /**
   * Run InfluxQL against the database with `epoch=ms` and return the parsed JSON.
   * `SELECT`/`SHOW` use GET, anything else (CREATE, DROP, SELECT INTO...) uses POST.
   * Throws on a non-2xx answer; statement errors come back in `results[i].error`.
   */
  query(q: string): Promise<InfluxQueryResponse>;
  /** {@link InfluxHandle.query} flattened: one object per row, columns plus series tags. Throws on a statement error. */
  queryRows(q: string): Promise<Array<Record<string, unknown>>>;
  /** POST line protocol to `/write?db=<database>&precision=<precision>`; throws unless 204. */
  write(lines: string | string[], precision?: 'ns' | 'u' | 'ms' | 's'): Promise<void>;
}

function influxConfig(dir: string, httpPort: number, rpcPort: number, data: Record<string, string> = {}): string {
  const q = (s: string): string => JSON.stringify(s);
  return `# generated by tests/harness/services.ts for influxd 1.6
reporting-disabled = true
bind-address = ${q(`127.0.0.1:${rpcPort}`)}

[meta]
  dir = ${q(join(dir, 'meta'))}

[data]
  dir = ${q(join(dir, 'data'))}
  wal-dir = ${q(join(dir, 'wal'))}
  query-log-enabled = false
${Object.entries(data)
  .map(([k, v]) => `  ${k} = ${v}\n`)
  .join('')}
[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = ${q(`127.0.0.1:${httpPort}`)}
  log-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  suppress-logo = true
`;
}

/**
 * Start `influxd run -config <tmp>/influxdb.conf` (InfluxDB 1.6) on free loopback ports,
 * wait for `GET /ping` to answer 204, and create the database.
 *
 * @param opts - database name and readiness timeout
 * @returns a handle; call `stop()` in `afterAll`
 */
export async function startInfluxDB(opts: InfluxOptions = {}): Promise<InfluxHandle> {
  const database = opts.database ?? 'steward';
  const svc = await startService({
    bin: 'influxd',
    kind: 'influxdb',
    logName: 'influxd.log',
    scheme: 'http',
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    dropEnv: ['INFLUXDB_'],
    configure: async (dir, port) => {
      const configFile = join(dir, 'influxdb.conf');
      await writeFile(configFile, influxConfig(dir, port, await freePort(), opts.data));
      return ['run', '-config', configFile];
    },
    ready: async (port) => (await httpStatus(`http://127.0.0.1:${port}/ping`)) === 204,
    afterStart: async (url) => {
      const res = await fetch(`${url}/query`, {
        method: 'POST',
        body: new URLSearchParams({ q: `CREATE DATABASE ${JSON.stringify(database)}` }),
      });
      const body = (await res.json()) as InfluxQueryResponse;
      const err = body.error ?? body.results?.find((r) => r.error !== undefined)?.error;
      if (!res.ok || err !== undefined) throw new Error(`CREATE DATABASE failed (${res.status}): ${err ?? ''}`);
    },
  });
  const handle = Object.assign(svc, {
    database,
    dataDir: svc.dir,
    async query(q: string) {
      const params = new URLSearchParams({ db: database, q, epoch: 'ms' });
      const readOnly = /^\s*(SELECT|SHOW)\b/i.test(q) && !/\bINTO\b/i.test(q);
      const res = readOnly
        ? await fetch(`${svc.url}/query?${params.toString()}`)
        : await fetch(`${svc.url}/query`, { method: 'POST', body: params });
      const text = await res.text();
      if (!res.ok) throw new Error(`influx query failed (${res.status}): ${text.trim()}`);
      return JSON.parse(text) as InfluxQueryResponse;
    },
    async queryRows(q: string) {
      const body = await handle.query(q);
      const rows: Array<Record<string, unknown>> = [];
      for (const r of body.results ?? []) {
        if (r.error !== undefined) throw new Error(`influx statement error: ${r.error}`);
        for (const s of r.series ?? []) {
          for (const v of s.values ?? []) {
            const row: Record<string, unknown> = { ...(s.tags ?? {}) };
            s.columns.forEach((c, i) => (row[c] = v[i]));
            rows.push(row);
          }
        }
      }
      return rows;
    },
    async write(lines: string | string[], precision: 'ns' | 'u' | 'ms' | 's' = 'ms') {
      await postLines(`${svc.url}/write?${new URLSearchParams({ db: database, precision }).toString()}`, lines, 'influx');
    },
  });
  return handle;
}

// ---------------------------------------------------------------------------
// VictoriaMetrics
// ---------------------------------------------------------------------------

/** One series as returned by VictoriaMetrics `/api/v1/export` (one JSON object per line). */
export interface VmSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** Options for {@link startVictoriaMetrics}. */
export interface VmOptions {
  /** How long to wait for `/health` (default 30 s). */
  readyTimeoutMs?: number;
  /** Extra command-line flags, e.g. `['-influxSkipSingleField']`. */
  extraArgs?: string[];
}

/** A running single-node VictoriaMetrics (its storage in `data/` of the temp dir). */
export interface VmHandle extends ServiceHandle {
  /** `GET /internal/force_flush`: make recently ingested samples searchable. */
  flush(): Promise<void>;
  /** POST line protocol to `/api/v2/write?org=steward&bucket=steward&precision=<precision>`; throws unless 204. */
  write(lines: string | string[], precision?: 'ns' | 'us' | 'ms' | 's'): Promise<void>;
  /**
   * Flush, then `GET /api/v1/export?match[]=<match>&start=0&end=<now+1 day>`, parsed
   * (newline-delimited JSON) and sorted by metric name, then labels.
   *
   * Line protocol written to `/api/v2/write` (or `/write`) becomes one series per
   * field named `{measurement}_{field}`, with the tags as labels: `env,site=a t=1,h=2i`
   * gives `env_t{site="a"}` and `env_h{site="a"}`. `/api/v2/write` adds no label for
   * `org`/`bucket`; `/write?db=x` adds `db="x"` (flag `-influxDBLabel`). Booleans
   * become 1/0, and string fields are stored as 0 (not skipped). Default precision
   * on `/api/v2/write` is ns. Unparseable lines are logged and skipped while the
   * request still answers 204.
   *
   * Two visibility traps in 1.79: samples are invisible until the ~1 s in-memory
   * buffer is flushed (hence `/internal/force_flush`), and `/api/v1/export`
   * without `end` excludes the current second (and the future), so a point
   * written "now" stays invisible for up to a second. We always pass `end`.
   *
   * @param match - a series selector, e.g. `{__name__=~"env_.*"}` or `env_temp{site="a"}`
   * @param opts.waitForSeries - poll (re-flushing) until at least this many series are
   *   returned or `timeoutMs` (default 10 s) passes; default 0 = one attempt
   */
  exportSeries(match: string, opts?: { waitForSeries?: number; timeoutMs?: number }): Promise<VmSeries[]>;
}

/**
 * Start `victoria-metrics -storageDataPath <tmp>/data -httpListenAddr 127.0.0.1:<port>
 * -search.latencyOffset=0s -loggerLevel=ERROR` and wait for `GET /health` to answer 200.
 *
 * @param opts - readiness timeout, extra flags
 * @returns a handle; call `stop()` in `afterAll`
 */
export async function startVictoriaMetrics(opts: VmOptions = {}): Promise<VmHandle> {
  const svc = await startService({
    bin: 'victoria-metrics',
    kind: 'victoria-metrics',
    logName: 'victoria-metrics.log',
    scheme: 'http',
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    configure: (dir, port) => [
      `-storageDataPath=${join(dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-search.latencyOffset=0s',
      '-loggerLevel=ERROR',
      ...(opts.extraArgs ?? []),
    ],
    ready: async (port) => (await httpStatus(`http://127.0.0.1:${port}/health`)) === 200,
  });

  const flush = async (): Promise<void> => {
    // Exists in 1.79; an unknown path would answer 400, which we ignore.
    await httpStatus(`${svc.url}/internal/force_flush`, 10_000);
  };

  const exportOnce = async (match: string): Promise<VmSeries[]> => {
    await flush();
    const end = Math.ceil(Date.now() / 1000) + 86_400;
    const params = new URLSearchParams({ 'match[]': match, start: '0', end: String(end) });
    const res = await fetch(`${svc.url}/api/v1/export?${params.toString()}`);
    const text = await res.text();
    if (!res.ok) throw new Error(`victoria-metrics export failed (${res.status}): ${text.trim()}`);
    const series = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as VmSeries);
    const key = (s: VmSeries): string => JSON.stringify(Object.entries(s.metric).sort(([a], [b]) => (a === '__name__' ? -1 : b === '__name__' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
    return series.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  };

  return Object.assign(svc, {
    flush,
    async write(lines: string | string[], precision: 'ns' | 'us' | 'ms' | 's' = 'ms') {
      await postLines(`${svc.url}/api/v2/write?${new URLSearchParams({ org: 'steward', bucket: 'steward', precision }).toString()}`, lines, 'victoria-metrics');
    },
    async exportSeries(match: string, o: { waitForSeries?: number; timeoutMs?: number } = {}) {
      const want = o.waitForSeries ?? 0;
      const deadline = Date.now() + (o.timeoutMs ?? 10_000);
      for (;;) {
        const series = await exportOnce(match);
        if (series.length >= want || Date.now() > deadline) return series;
        await sleep(100);
      }
    },
  });
}

// ---------------------------------------------------------------------------
// Mosquitto
// ---------------------------------------------------------------------------

/** Options for {@link startMosquitto}. */
export interface MosquittoOptions {
  /**
   * Extra mosquitto.conf lines appended after the generated ones (password_file,
   * acl_file, ...). A function receives the temp dir so it can point at files
   * created by `prepare`. If it sets `allow_anonymous`, `persistence` or `user`,
   * the generated default for that option is left out; `per_listener_settings`
   * lines are moved to the top, where mosquitto needs them.
   */
  config?: string | ((dir: string) => string);
  /** Runs before the broker starts, with the temp dir (e.g. to run `mosquitto_passwd`). */
  prepare?: (dir: string) => Promise<void> | void;
  /** Keep sessions and queued messages in `<dir>/mosquitto.db` across restarts (default false). */
  persistence?: boolean;
  /**
   * `max_queued_messages` per client (mosquitto's default is 1000; 0 = no limit). Past it
   * mosquitto drops QoS 1 messages for that client, which a persistent subscriber that is down
   * for a while reaches quickly.
   */
  maxQueuedMessages?: number;
  /** `max_inflight_messages` per client (mosquitto's default is 20; 0 = no limit). */
  maxInflightMessages?: number;
  /** How long to wait for the TCP port (default 10 s). */
  readyTimeoutMs?: number;
}

/** A running Mosquitto broker (`url` is `mqtt://127.0.0.1:<port>`). */
export interface MosquittoHandle extends ServiceHandle {
  /** Path of the generated config. */
  readonly configFile: string;
}

function mosquittoConfig(port: number, extra: string): string {
  const has = (opt: string): boolean => new RegExp(`^\\s*${opt}\\b`, 'm').test(extra);
  const lines = extra.split('\n');
  const hoisted = lines.filter((l) => /^\s*per_listener_settings\b/.test(l));
  const rest = lines.filter((l) => !/^\s*per_listener_settings\b/.test(l));
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return [
    '# generated by tests/harness/services.ts for mosquitto 2.x',
    ...hoisted,
    // As root mosquitto 2 drops to user "mosquitto", which cannot read files in our 0700 temp dir.
    ...(isRoot && !has('user') ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    ...(has('allow_anonymous') ? [] : ['allow_anonymous true']),
    ...(has('persistence') ? [] : ['persistence false']),
    'log_dest stderr',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    '',
    ...rest,
    '',
  ].join('\n');
}

/**
 * Start `mosquitto -c <tmp>/mosquitto.conf` listening on 127.0.0.1:<free port>
 * (anonymous allowed by default, no persistence) and wait until a TCP connect succeeds.
 *
 * @param opts - extra config lines, a prepare hook, readiness timeout
 * @returns a handle; call `stop()` in `afterAll`
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const svc = await startService({
    bin: 'mosquitto',
    kind: 'mosquitto',
    logName: 'mosquitto.log',
    scheme: 'mqtt',
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    prepare: opts.prepare,
    configure: async (dir, port) => {
      const extra = [
        ...(opts.persistence ? ['persistence true', `persistence_location ${dir}/`] : []),
        ...(opts.maxQueuedMessages !== undefined ? [`max_queued_messages ${opts.maxQueuedMessages}`] : []),
        ...(opts.maxInflightMessages !== undefined ? [`max_inflight_messages ${opts.maxInflightMessages}`] : []),
        typeof opts.config === 'function' ? opts.config(dir) : (opts.config ?? ''),
      ].join('\n');
      const configFile = join(dir, 'mosquitto.conf');
      await writeFile(configFile, mosquittoConfig(port, extra));
      return ['-c', configFile];
    },
    ready: (port) => tcpConnects(port),
  });
  return Object.assign(svc, { configFile: join(svc.dir, 'mosquitto.conf') });
}

// ---------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------

/**
 * A running (or paused) `redis-server` on 127.0.0.1 (`redis://127.0.0.1:<port>`), its data
 * (append-only file, which keeps what was fsynced through a kill9) in the temp dir.
 */
export type RedisHandle = ServiceHandle;

/**
 * Start Debian's `redis-server` on 127.0.0.1:<free port> with a temp dir (append-only file,
 * fsync every second, no RDB snapshots) and wait until it answers PING.
 */
export async function startRedis(opts: { readyTimeoutMs?: number } = {}): Promise<RedisHandle> {
  return startService({
    bin: 'redis-server',
    kind: 'redis',
    logName: 'redis.log',
    scheme: 'redis',
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    configure: async (dir, port) => {
      const configFile = join(dir, 'redis.conf');
      const conf = [`port ${port}`, 'bind 127.0.0.1', 'protected-mode no', 'daemonize no', `dir ${dir}`, 'appendonly yes', 'appendfsync everysec', 'save ""', 'logfile ""', ''];
      await writeFile(configFile, conf.join('\n'));
      return [configFile];
    },
    ready: redisPing,
  });
}

/** True when a Redis on 127.0.0.1:port answers PING with PONG. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

// ---------------------------------------------------------------------------
// One-shot commands
// ---------------------------------------------------------------------------

/** Options for {@link runCli}. */
export interface CliOptions {
  /** Kill the command (SIGTERM, then SIGKILL 2 s later) after this long (default 30 s). */
  timeoutMs?: number;
  /** Written to stdin, which is then closed (stdin is empty otherwise). */
  input?: string | Buffer;
  /** Environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Working directory. */
  cwd?: string;
}

/** Outcome of {@link runCli}. */
export interface CliResult {
  /** Exit code, or null if killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True if the timeout fired. */
  timedOut: boolean;
  durationMs: number;
}

/**
 * Run a command to completion and collect its output (e.g. `mosquitto_pub`, `mosquitto_sub`).
 * Never rejects for a non-zero exit; rejects only if the program cannot be spawned.
 * Bare names are looked up in `$PATH` and the sbin directories.
 *
 * @param cmd - program name or path
 * @param args - arguments
 * @param opts - timeout, stdin, env, cwd
 * @returns exit status and captured output
 */
export function runCli(cmd: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const bin = resolveBinary(cmd) ?? cmd;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    liveChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, timeoutMs);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.stdin?.on('error', () => undefined); // EPIPE if the program exits early
    child.stdin?.end(opts.input);
    const cleanup = (): void => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      liveChildren.delete(child);
    };
    child.once('error', (e) => {
      cleanup();
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      cleanup();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}
