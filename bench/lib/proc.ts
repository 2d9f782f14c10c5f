/**
 * The orchestrator side of the bench: role child processes spoken to in JSON lines (see
 * ./role.ts), and per-process figures from /proc (peak RSS, CPU seconds).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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

/** Pids of processes whose command line contains `fragment` (e.g. influxd's temp config path). */
export function findPids(fragment: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(fragment)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
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

/** One role in its own Node process (`node --import tsx bench/roles/<role>.ts`). */
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

  private constructor(
    readonly role: string,
    child: ChildProcess,
    log: WriteStream,
  ) {
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

  /** Spawns `bench/roles/<role>.ts` with Node's `--import tsx`. */
  static spawn(role: string, o: SpawnRoleOptions): RoleProcess {
    const script = fileURLToPath(new URL(`../roles/${role}.ts`, import.meta.url));
    const child = spawn(process.execPath, [...(o.nodeFlags ?? []), '--import', 'tsx', script, ...(o.args ?? [])], {
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
