/**
 * The command line of a bench script: its options plus `-h, --help`, and checked conversions that
 * stop the script with exit code 2, the message and the usage text when an option is wrong.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION = { help: { type: 'boolean', short: 'h', default: false } } as const;

/**
 * `--roles-from dist|sources`, for a script whose roles run under `startBenchRun`: dist (the
 * default), compiled by tsc as `npm run build` compiles Steward; sources, through tsx. Checked by
 * the `rolesFrom` that {@link benchArgs} returns.
 */
export const ROLES_FROM_OPTION = { 'roles-from': { type: 'string', default: 'dist' } } as const;
/** The line a help text lists for {@link ROLES_FROM_OPTION}. */
export const ROLES_FROM_HELP = '  --roles-from dist|sources  roles compiled by tsc as npm run build does (default), or the sources through tsx';

/**
 * Parses `process.argv` with `options` (and `-h, --help`, which prints `help` and exits 0).
 * Returns the values and the checks that end the run on a wrong option:
 * - `num(name, v, min = 0)`: `v` as a number at least `min`;
 * - `words(name, noun, v, allowed)`: a comma list whose every word is one of `allowed`;
 * - `fail(message)`: the message and the usage text on stderr, exit 2;
 * - `rolesFrom(v)`: `--roles-from` ({@link ROLES_FROM_OPTION}) checked.
 */
export function benchArgs<const O extends Options>(help: string, options: O) {
  const { values } = parseArgs({ options: { ...options, ...HELP_OPTION } });
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    process.exit(0);
  }
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n${help}`);
    process.exit(2);
  };
  const num = (name: string, v: string | undefined, min = 0): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < min) fail(`--${name}: "${String(v)}" is not a number >= ${min}`);
    return n;
  };
  const words = <W extends string>(name: string, noun: string, v: string | undefined, allowed: readonly W[]): Set<W> => {
    const set = new Set((v ?? '').split(',').filter(Boolean));
    for (const w of set) if (!(allowed as readonly string[]).includes(w)) fail(`--${name}: unknown ${noun} "${w}"`);
    return set as Set<W>;
  };
  /** `--roles-from`, checked. */
  const rolesFrom = (v: string | undefined): 'dist' | 'sources' => (v === 'dist' || v === 'sources' ? v : fail(`--roles-from: "${String(v)}" is not dist or sources`));
  return { opt: values, num, words, fail, rolesFrom };
}
