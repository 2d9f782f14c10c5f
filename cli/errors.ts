/** Exit codes and the error that carries one out of a command. */

/** 0 success; 1 the command failed (e.g. nothing to remove, a role crashed); 2 bad usage, bad config or bad input. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** Thrown by a command to end the process with `exitCode` after printing `message` to stderr. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.USAGE, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
