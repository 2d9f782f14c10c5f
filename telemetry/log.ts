/**
 * Structured logs (pino), one root logger per process; roles take a child logger in options.
 * On a terminal they are pretty-printed (pino-pretty: time, level, message, fields); elsewhere
 * (files, pipes, log collectors) they stay one JSON object per line. `STEWARD_LOG_PRETTY=1` or `0`
 * forces either.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

type PrettyFactory = (opts: Record<string, unknown>) => DestinationStream;

/** pino-pretty when installed (a development dependency: absent from production installs), else undefined. */
function loadPretty(): PrettyFactory | undefined {
  try {
    const mod = createRequire(import.meta.url)('pino-pretty') as PrettyFactory | { default: PrettyFactory };
    return typeof mod === 'function' ? mod : mod.default;
  } catch {
    return undefined;
  }
}

/** True when logs should be pretty-printed: STEWARD_LOG_PRETTY, else whether stdout is a terminal. */
export function wantsPretty(env: NodeJS.ProcessEnv = process.env, isTty = process.stdout.isTTY === true): boolean {
  if (env.STEWARD_LOG_PRETTY === '1' || env.STEWARD_LOG_PRETTY === 'true') return true;
  if (env.STEWARD_LOG_PRETTY === '0' || env.STEWARD_LOG_PRETTY === 'false') return false;
  return isTty;
}

/** Creates the process logger (pretty on a terminal, JSON lines otherwise). */
export function createLogger(level = 'info', opts: { name?: string; pretty?: boolean } = {}): Logger {
  const options = { level, name: opts.name ?? 'steward', base: { pid: process.pid } };
  const pretty = (opts.pretty ?? wantsPretty()) ? loadPretty() : undefined;
  if (!pretty) return pino(options);
  // Synchronous, in this thread: a log line written just before exit is not lost.
  return pino(options, pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true, sync: true }));
}

/** A logger that discards everything (tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
