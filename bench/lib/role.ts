/**
 * The child side of the bench protocol. A role (broker, ingest, load, sink) is its own Node
 * process; it talks to the orchestrator (bench/pipeline.ts) in JSON lines: messages
 * `{ type, ... }` on stdout, commands `{ cmd, id?, ... }` on stdin. A reply to a command carries
 * the command's `id`. Logs go to stderr, never stdout.
 *
 * A role exits when its stdin closes (the orchestrator died, even by SIGKILL), so a bench never
 * leaves orphans behind.
 * @module
 */
import { createInterface } from 'node:readline';
import { pino, type Logger } from 'pino';

/** A command from the orchestrator. */
export interface Command {
  cmd: string;
  id?: number;
  [key: string]: unknown;
}

/** Writes one message to the orchestrator. */
export function emit(msg: { type: string; [key: string]: unknown }): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** Replies to a command (same `id`). */
export function reply(to: Command, msg: { type: string; [key: string]: unknown }): void {
  emit(to.id === undefined ? msg : { ...msg, id: to.id });
}

/** A pino logger writing to stderr (stdout carries the protocol). */
export function roleLogger(role: string, level = process.env.BENCH_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, name: `bench-${role}`, base: { pid: process.pid } }, pino.destination(2));
}

/**
 * Runs a role: calls `handle` for each command, `shutdown` on `stop`, SIGTERM, SIGINT or when
 * stdin closes, then exits. An error in `handle` is reported as `{ type: 'error' }` and the role
 * keeps running; an error in `shutdown` exits with code 1.
 */
export function serve(role: string, handle: (c: Command) => Promise<void> | void, shutdown: () => Promise<void>): void {
  let stopping: Promise<void> | undefined;
  const stop = (why: string, cmd?: Command): Promise<void> => {
    stopping ??= (async () => {
      let code = 0;
      try {
        await shutdown();
      } catch (err) {
        process.stderr.write(`bench ${role}: shutdown failed (${why}): ${(err as Error).stack ?? String(err)}\n`);
        code = 1;
      }
      if (cmd) reply(cmd, { type: 'stopped' });
      // Let stdout drain before exiting (a pipe write is asynchronous).
      process.stdout.write('', () => process.exit(code));
      setTimeout(() => process.exit(code), 2000).unref();
    })();
    return stopping;
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let c: Command;
    try {
      c = JSON.parse(line) as Command;
    } catch {
      emit({ type: 'error', message: `not JSON: ${line.slice(0, 200)}` });
      return;
    }
    if (c.cmd === 'stop') {
      void stop('stop command', c);
      return;
    }
    Promise.resolve()
      .then(() => handle(c))
      .catch((err: unknown) => reply(c, { type: 'error', message: (err as Error).message ?? String(err) }));
  });
  rl.on('close', () => void stop('stdin closed'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Parses `--key value` pairs of a role's argv (every role option takes a value). */
export function roleArgs(argv = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k?.startsWith('--') || v === undefined) throw new Error(`bad role arguments: ${argv.join(' ')}`);
    out[k.slice(2)] = v;
  }
  return out;
}

/** The value of a required role argument. */
export function need(args: Record<string, string>, key: string): string {
  const v = args[key];
  if (v === undefined) throw new Error(`missing --${key}`);
  return v;
}
