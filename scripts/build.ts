/**
 * `npm run build` (also run by `npm install` as the `prepare` script, and by the tests when dist/ is
 * missing or older than the sources):
 *
 * 1. tsc compiles what the `steward` command reaches (tsconfig.build.json: from cli/steward.ts
 *    through every import) into dist/: dist/cli/steward.js, dist/core/…, one .js per .ts, the
 *    relative imports rewritten from `.ts` to `.js`;
 * 2. esbuild bundles the console's page (console/build.ts) into dist/console/index.html and
 *    dist/console/assets/;
 * 3. dist/build-info.json records when the build started and how long it took.
 *
 * Everything is built into a scratch folder under .tmp/ and swapped in at the end: a moved or
 * deleted source leaves nothing behind in dist/, and a failed build leaves the last good one.
 * `bin/steward.js` runs dist/cli/steward.js; files read at runtime (rules/defaults, the privacy
 * policies, package.json) stay where they are and are found from the package root (core/paths.ts).
 *
 *   npx tsx scripts/build.ts              build
 *   npx tsx scripts/build.ts --if-stale   build only when dist/ is missing or a source is newer
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildConsole } from '../console/build.ts';
import { packagePath, PACKAGE_ROOT } from '../core/paths.ts';

/** The build's output folder. */
export const DIST_DIR = packagePath('dist');
/** What the build writes last: its absence means no complete build. */
export const BUILD_INFO = join(DIST_DIR, 'build-info.json');

/** Folders of the package that are not inputs of the build. */
const NOT_SOURCES = new Set(['node_modules', 'dist', 'data', 'docs', 'tests', 'bench', 'coverage']);
/** Files (other than .ts) whose change changes the build. */
const INPUT_FILE = /\.(ts|html|css|svg)$|^(package|tsconfig(\.build)?)\.json$/;

export interface BuildInfo {
  /** When the build started (ISO 8601): a source changed after that is not in it. */
  startedAt: string;
  /** Build time, ms (tsc, then the console bundle). */
  ms: number;
  tscMs: number;
  consoleMs: number;
}

/** Newest modification time (ms) of the build's inputs, and the file that has it. */
export function newestSource(dir: string = PACKAGE_ROOT): { file: string; mtimeMs: number } {
  let newest = { file: '', mtimeMs: 0 };
  const walk = (d: string, top: boolean): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.') || (top && NOT_SOURCES.has(e.name))) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        // scripts/ holds tools; only this one is an input of the build.
        if (top && e.name === 'scripts') {
          const self = join(p, 'build.ts');
          const m = statSync(self).mtimeMs;
          if (m > newest.mtimeMs) newest = { file: self, mtimeMs: m };
          continue;
        }
        walk(p, false);
      } else if (e.isFile() && INPUT_FILE.test(e.name) && !e.name.endsWith('.test.ts') && (!top || e.name.endsWith('.json'))) {
        const m = statSync(p).mtimeMs;
        if (m > newest.mtimeMs) newest = { file: p, mtimeMs: m };
      }
    }
  };
  walk(dir, true);
  return newest;
}

/** Why dist/ needs a build (missing, incomplete, a source newer), or undefined when it is current. */
export function staleReason(): string | undefined {
  if (!existsSync(BUILD_INFO)) return 'dist/ has no complete build';
  if (!existsSync(join(DIST_DIR, 'cli', 'steward.js'))) return 'dist/cli/steward.js is missing';
  if (!existsSync(join(DIST_DIR, 'console', 'index.html'))) return 'the console bundle (dist/console/index.html) is missing';
  const info = JSON.parse(readFileSync(BUILD_INFO, 'utf8')) as BuildInfo;
  const newest = newestSource();
  if (newest.mtimeMs > Date.parse(info.startedAt)) return `${relative(PACKAGE_ROOT, newest.file)} changed since the last build`;
  return undefined;
}

/** Runs the project's tsc on `tsconfig` (a file of the package root) into `outDir`; throws with tsc's output. */
export async function compileTs(tsconfig: string, outDir: string): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', packagePath(tsconfig), '--outDir', outDir], { cwd: PACKAGE_ROOT, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p ${tsconfig} failed:\n${x.stdout ?? ''}${x.stderr ?? ''}`, { cause: e });
  }
}

/** Builds dist/ (tsc, then the console), replacing the previous build once both succeeded. */
export async function build(log: (line: string) => void = (l) => console.log(l)): Promise<BuildInfo> {
  const started = new Date();
  const t0 = performance.now();
  const scratch = packagePath('.tmp', `build-${process.pid}-${Date.now()}`);
  mkdirSync(scratch, { recursive: true });
  try {
    await compileTs('tsconfig.build.json', scratch);
    const tscMs = Math.round(performance.now() - t0);
    const bundle = await buildConsole({ outDir: join(scratch, 'console') });
    const info: BuildInfo = { startedAt: started.toISOString(), ms: Math.round(performance.now() - t0), tscMs, consoleMs: bundle.ms };
    writeFileSync(join(scratch, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
    // Swap: the old build out of the way, the new one in, the old one removed.
    const old = `${scratch}-old`;
    if (existsSync(DIST_DIR)) renameSync(DIST_DIR, old);
    renameSync(scratch, DIST_DIR);
    rmSync(old, { recursive: true, force: true });
    log(`built dist/ in ${(info.ms / 1000).toFixed(1)} s (tsc ${(tscMs / 1000).toFixed(1)} s, console ${(bundle.ms / 1000).toFixed(1)} s)`);
    return info;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Builds when dist/ is missing or older than the sources; resolves with what it did. */
export async function ensureBuilt(log: (line: string) => void = (l) => console.log(l)): Promise<BuildInfo | undefined> {
  const why = staleReason();
  if (!why) return undefined;
  log(`building dist/: ${why}`);
  return build(log);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    if (process.argv.includes('--if-stale')) {
      if (!(await ensureBuilt())) console.log('dist/ is up to date');
    } else await build();
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
