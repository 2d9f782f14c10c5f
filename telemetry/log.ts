/** Structured logs (pino), one root logger per process; roles take a child logger in options. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the process logger. `STEWARD_LOG_PRETTY=1` pretty-prints for humans. */
export function createLogger(level = 'info', opts: { name?: string } = {}): Logger {
  return pino({ level, name: opts.name ?? 'steward', base: { pid: process.pid } });
}

/** A logger that discards everything (tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
