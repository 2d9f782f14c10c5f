/**
 * Runs `steward` roles as real child processes (the package's own bin), so tests can kill -9
 * them, restart them and read their structured logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

const BIN = new URL('../../bin/steward.js', import.meta.url).pathname;

export interface StewardProcess {
  proc: ChildProcess;
  /** Everything printed so far (stdout + stderr). */
  output(): string;
  /** Resolves when the output matches `re`. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Writes a YAML config file into `dir` and returns its path. */
export function writeConfig(dir: string, config: Record<string, unknown>, name = 'steward.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, stringify(config));
  return p;
}

/** Spawns `node bin/steward.js ...args`. */
export function spawnSteward(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): StewardProcess {
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const onData = (b: Buffer): void => {
    out += b.toString();
    for (const w of [...waiters]) {
      if (!w.re.test(out)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const killOnExit = (): void => {
    proc.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return {
    proc,
    output: () => out,
    exited,
    waitFor(re, ms = 30_000) {
      if (re.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`steward ${args.join(' ')}: no output matching ${re} within ${ms} ms; output:\n${out.slice(-3000)}`)), ms);
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          if (!re.test(out)) reject(new Error(`steward ${args.join(' ')} exited (${code}) before printing ${re}; output:\n${out.slice(-3000)}`));
        });
      });
    },
    async stop(signal = 'SIGTERM', ms = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
