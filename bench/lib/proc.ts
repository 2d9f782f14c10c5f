/**
 * The orchestrator side of the bench: role child processes spoken to in JSON lines (see
 * ./role.ts), per-process figures from /proc (peak RSS, CPU seconds), and the frame every
 * orchestrator runs in ({@link startBenchRun}: results dir, temp dir, cleanup on Ctrl-C, a role
 * dying ends the run).
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { compileTs } from '../../scripts/build.ts';

/** A message from a role. */
export type RoleMessage = { type: string; id?: number; [key: string]: unknown };

/** Figures of one process from /proc/<pid>/status and /proc/<pid>/stat. */
export interface ProcStats {
  pid: number;
  /** Current resident set, MiB. */
  rssMiB: number;
  /** Peak resident set (VmHWM), MiB. */
  peakRssMiB: number;
  /** utime + stime, seconds. */
  cpuS: number;
}

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux x86 and arm). */
const CLK_TCK = 100;

/** Reads a live process's figures; undefined once it has exited. */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]); // field 14
    const stime = Number(rest[12]); // field 15
    return { pid, rssMiB: round1(kb('VmRSS') / 1024), peakRssMiB: round1(kb('VmHWM') / 1024), cpuS: round2((utime + stime) / CLK_TCK) };
  } catch {
    return undefined;
  }
}

/** 1-minute load average and the number of runnable tasks, from /proc/loadavg. */
export function loadAverage(): { load1: number; load5: number; load15: number } {
  const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return { load1: a ?? NaN, load5: b ?? NaN, load15: c ?? NaN };
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;
export const round2 = (x: number): number => Math.round(x * 100) / 100;

const live = new Set<RoleProcess>();

/** Every role process still running (for cleanup on Ctrl-C). */
export function liveRoles(): RoleProcess[] {
  return [...live];
}

/**
 * `BENCH_NODE_FLAGS`, split: extra Node flags for the process under test (the pipeline's node, the
 * rules bench's server or node), e.g. `--cpu-prof --cpu-prof-dir /tmp/p` (every thread, the whole
 * run) or `--trace-gc`.
 */
export function nodeFlagsUnderTest(): string[] {
  return (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
}

/** Options of {@link RoleProcess.spawn}. */
export interface SpawnRoleOptions {
  /** Role arguments (`--key value`). */
  args?: string[];
  /** Extra Node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  /** File receiving the role's stderr (its logs). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * How roles run: `dist`, compiled by tsc into {@link ROLES_BUILD} as `npm run build` compiles
 * Steward (what production runs), or `sources`, the TypeScript through tsx.
 */
export type RolesFrom = 'dist' | 'sources';
/** Where {@link buildRoles} compiles the roles (and everything they import) to. */
export const ROLES_BUILD = fileURLToPath(new URL('../../.tmp/bench-build', import.meta.url));
let rolesFrom: RolesFrom = 'sources';

/** Compiles the roles (tsconfig.bench.json) into {@link ROLES_BUILD}; roles spawned after it run from there. */
export async function buildRoles(): Promise<void> {
  rmSync(ROLES_BUILD, { recursive: true, force: true });
  await compileTs('tsconfig.bench.json', ROLES_BUILD);
  rolesFrom = 'dist';
}

/** One role in its own Node process (`node .tmp/bench-build/bench/roles/<role>.js`, or `node --import tsx bench/roles/<role>.ts`). */
export class RoleProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #log: WriteStream;
  readonly #waiters = new Set<{ match: (m: RoleMessage) => boolean; resolve: (m: RoleMessage) => void }>();
  readonly #listeners = new Set<(m: RoleMessage) => void>();
  #nextId = 1;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Set once `stop()` or `kill()` was called: an exit after that is expected. */
  stopRequested = false;

  readonly role: string;

  private constructor(role: string, child: ChildProcess, log: WriteStream) {
    this.role = role;
    this.child = child;
    this.#log = log;
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let m: RoleMessage;
      try {
        m = JSON.parse(line) as RoleMessage;
      } catch {
        log.write(`[stdout] ${line}\n`);
        return;
      }
      for (const l of this.#listeners) l(m);
      for (const w of [...this.#waiters]) {
        if (w.match(m)) {
          this.#waiters.delete(w);
          w.resolve(m);
        }
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        resolve({ code, signal });
      });
    });
    child.once('error', (err) => log.write(`spawn error: ${err.message}\n`));
  }

  /** Spawns the role compiled (after {@link buildRoles}), else `bench/roles/<role>.ts` with Node's `--import tsx`. */
  static spawn(role: string, o: SpawnRoleOptions): RoleProcess {
    const run =
      rolesFrom === 'dist'
        ? [join(ROLES_BUILD, 'bench', 'roles', `${role}.js`)]
        : ['--import', 'tsx', fileURLToPath(new URL(`../roles/${role}.ts`, import.meta.url))];
    const child = spawn(process.execPath, [...(o.nodeFlags ?? []), ...run, ...(o.args ?? [])], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: o.env ?? process.env,
    });
    child.stdin?.on('error', () => undefined); // EPIPE once the role has exited
    const p = new RoleProcess(role, child, createWriteStream(o.logFile, { flags: 'a' }));
    live.add(p);
    return p;
  }

  /** The file receiving the role's stderr. */
  get logFile(): string {
    return this.#log.path as string;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Calls `l` for every message (e.g. periodic stats). */
  onMessage(l: (m: RoleMessage) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** Waits for the next message that `match` accepts; rejects on exit or after `timeoutMs`. */
  waitFor(match: (m: RoleMessage) => boolean, timeoutMs: number, what = 'a message'): Promise<RoleMessage> {
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (m: RoleMessage) => {
          clearTimeout(timer);
          if (m.type === 'error') reject(new Error(`${this.role}: ${String(m.message)}`));
          else resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`${this.role}: no ${what} within ${timeoutMs} ms (log: ${this.#log.path as string})`));
      }, timeoutMs);
      this.#waiters.add(w);
      void this.exited.then((e) => {
        if (!this.#waiters.has(w)) return;
        this.#waiters.delete(w);
        clearTimeout(timer);
        reject(new Error(`${this.role} exited (${e.signal ?? `code ${String(e.code)}`}) while waiting for ${what} (log: ${this.#log.path as string})`));
      });
    });
  }

  /** Sends a command and waits for its reply (same id, or an error with that id). */
  request(cmd: string, body: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<RoleMessage> {
    const id = this.#nextId++;
    const p = this.waitFor((m) => m.id === id, timeoutMs, `reply to ${cmd}`);
    this.child.stdin?.write(`${JSON.stringify({ ...body, cmd, id })}\n`);
    return p;
  }

  /** Asks the role to stop, then SIGTERM, then SIGKILL; resolves once it has exited. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopRequested = true;
    if (!this.running) return;
    this.child.stdin?.write(`${JSON.stringify({ cmd: 'stop', id: 0 })}\n`);
    const t1 = setTimeout(() => this.child.kill('SIGTERM'), graceMs);
    const t2 = setTimeout(() => this.child.kill('SIGKILL'), graceMs + 3000);
    await this.exited;
    clearTimeout(t1);
    clearTimeout(t2);
  }

  /** SIGKILL now. */
  kill(): void {
    this.stopRequested = true;
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** The repository root. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** This machine as every result records it (callers add their own fields). */
export function machineInfo(): Record<string, unknown> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memTotalGiB: round1(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    commit,
    roles: rolesFrom,
    loadAtStart: loadAverage(),
  };
}

/** One orchestrator run: see {@link startBenchRun}. */
export interface BenchRun {
  /** `<out>/<name>-<time>`, created. */
  readonly outDir: string;
  /** A temp dir, removed by {@link BenchRun.cleanup}. */
  readonly tmp: string;
  /** True once Ctrl-C (SIGINT) or SIGTERM was received. */
  readonly interrupted: boolean;
  /** True once a watched role died on its own and ended the run. */
  readonly roleDied: boolean;
  /** A timestamped progress line on stdout. */
  log(msg: string): void;
  /** Stops every role, runs `onCleanup`, removes the temp dir; only once. */
  cleanup(): Promise<void>;
  /**
   * Watches a role. One that exits on its own (not stopped) ends the run at once, with the end of
   * its log; with `onDeath`, that is called instead (with the reason and the log's end) and the
   * run goes on.
   */
  watch(r: RoleProcess, onDeath?: (why: string, tail: string) => void): RoleProcess;
  /** Runs `main`, sets the exit code (130 interrupted, 1 failed: reported once), cleans up. */
  main(main: () => Promise<void>): Promise<void>;
  /** Writes `result.json` and `summary.md` (`md`, also printed) into the results dir, and the closing log line. */
  finish(result: unknown, md: string, wallS: number): void;
}

/**
 * The frame every orchestrator (bench/pipeline.ts, rules.ts, storm.ts) runs in: a results dir,
 * a temp dir, and on success, error or Ctrl-C every role stopped and the temp dir removed
 * (a second Ctrl-C kills at once).
 */
export function startBenchRun(o: {
  /** Results subdirectory prefix, e.g. `storm`. */
  name: string;
  /** Results root (default bench/results). */
  out?: string;
  /** Temp dir prefix under the OS temp dir. */
  tmpPrefix: string;
  /** More to stop at cleanup, after the roles (e.g. services). */
  onCleanup?: () => Promise<void>;
  /** More to kill on a second Ctrl-C. */
  onForceExit?: () => void;
  /** How the roles run (`--roles-from`); `dist` compiles them first, in {@link BenchRun.main}. */
  rolesFrom: RolesFrom;
}): BenchRun {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = join(o.out ?? join(REPO, 'bench', 'results'), `${o.name}-${stamp}`);
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(os.tmpdir(), o.tmpPrefix));
  const log = (msg: string): void => {
    process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  };
  let cleaning: Promise<void> | undefined;
  let interrupted = false;
  let roleDied = false;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await Promise.allSettled(liveRoles().map((r) => r.stop(5000)));
      await o.onCleanup?.().catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    })();
    return cleaning;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) {
        for (const r of liveRoles()) r.kill();
        o.onForceExit?.();
        process.exit(130);
      }
      interrupted = true;
      log(`${sig}: stopping every process (again to force)`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const tail = (file: string, lines = 25): string => {
    try {
      return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return {
    outDir,
    tmp,
    get interrupted() {
      return interrupted;
    },
    get roleDied() {
      return roleDied;
    },
    log,
    cleanup,
    finish(result, md, wallS) {
      const file = join(outDir, 'result.json');
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync(join(outDir, 'summary.md'), md);
      process.stdout.write(`\n${md}\n`);
      log(`done in ${wallS} s; ${relative(process.cwd(), file)}`);
    },
    watch(r, onDeath) {
      void r.exited.then(async (e) => {
        if (r.stopRequested || interrupted || cleaning) return;
        const why = `the ${r.role} process exited unexpectedly (${e.signal ?? `code ${String(e.code)}`})`;
        if (onDeath) {
          onDeath(why, tail(r.logFile));
          return;
        }
        roleDied = true;
        process.stderr.write(`\nbench failed: ${why}. End of ${r.logFile}:\n${tail(r.logFile)}\n`);
        await cleanup();
        process.exit(1);
      });
      return r;
    },
    async main(main) {
      try {
        if (o.rolesFrom === 'dist') {
          const t0 = Date.now();
          await buildRoles();
          log(`roles compiled by tsc into ${relative(process.cwd(), ROLES_BUILD)} in ${((Date.now() - t0) / 1000).toFixed(1)} s (--roles-from sources runs them through tsx)`);
        }
        await main();
      } catch (err) {
        if (interrupted) process.exitCode = 130;
        else if (roleDied) process.exitCode = 1; // reported by watch()
        else {
          process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n(logs in ${outDir})\n`);
          process.exitCode = 1;
        }
      } finally {
        await cleanup();
      }
    },
  };
}
