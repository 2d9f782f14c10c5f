/**
 * Builds the console's static assets with esbuild: `console/src/main.ts` (Preact + htm + uPlot,
 * all from node_modules: no CDN) into `dist/console/assets/app-[hash].js` and `.css`, and
 * `dist/console/index.html` referencing them. Content-hashed names let the server cache assets
 * for a year; index.html is never cached.
 *
 * Run by `npm run build` (scripts/build.ts), never when Steward starts; by tests and
 * `startConsoleHub` through `createConsoleService({ build: 'auto' })`; or by hand:
 * `npx tsx console/build.ts [--out DIR] [--no-minify]`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packagePath } from '../core/paths.ts';

/** The front-end sources. */
export const CONSOLE_SRC_DIR = packagePath('console', 'src');
/** Where the build goes by default (`dist/console` of the package: ignored by git and lint, shipped by npm). */
export const DEFAULT_DIST_DIR = packagePath('dist', 'console');

export interface BuildOptions {
  /** Output directory (default `dist/console`). */
  outDir?: string;
  /** Minify (default true). */
  minify?: boolean;
}

export interface BuildResult {
  outDir: string;
  /** Paths relative to `outDir`, index.html first. */
  files: string[];
  /** Build time, ms. */
  ms: number;
}

/** Writes a file atomically (temp file + rename), so a server never reads half of it. */
function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when `outDir` has no index.html, or a source file (or this script) is newer than it. */
export function needsBuild(outDir: string = DEFAULT_DIST_DIR): boolean {
  const index = join(outDir, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return newestMtime(CONSOLE_SRC_DIR) > built || statSync(fileURLToPath(import.meta.url)).mtimeMs > built;
}

/**
 * Bundles the console. Safe to run concurrently for the same `outDir` (each file is replaced
 * atomically; names are content hashes).
 *
 * @throws Error with esbuild's messages when the sources do not compile, or when esbuild is missing
 */
export async function buildConsole(opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const outDir = resolve(opts.outDir ?? DEFAULT_DIST_DIR);
  const assetsDir = join(outDir, 'assets');
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { app: join(CONSOLE_SRC_DIR, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'linked',
    outdir: assetsDir,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    write: false,
    metafile: true,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files: string[] = [];
  let script = '';
  let style = '';
  for (const f of result.outputFiles) {
    const rel = relative(outDir, f.path).split('\\').join('/');
    writeAtomic(f.path, f.contents);
    files.push(rel);
    if (/^assets\/app-[^/]+\.js$/.test(rel)) script = rel;
    if (/^assets\/app-[^/]+\.css$/.test(rel)) style = rel;
  }
  if (!script) throw new Error('console build produced no app-*.js');
  const favicon = readFileSync(join(CONSOLE_SRC_DIR, 'favicon.svg'));
  writeAtomic(join(assetsDir, 'favicon.svg'), favicon);
  files.push('assets/favicon.svg');
  const template = readFileSync(join(CONSOLE_SRC_DIR, 'index.html'), 'utf8');
  const html = template
    .replace('<!--styles-->', style ? `<link rel="stylesheet" href="/${style}">` : '')
    .replace('<!--scripts-->', `<script type="module" src="/${script}"></script>`);
  // Drop assets of earlier builds (same sources give the same names, so a concurrent build of the
  // same sources never loses a file it needs).
  const keep = new Set(files.map((f) => basename(f)));
  for (const name of readdirSync(assetsDir)) {
    if (!keep.has(name) && !name.endsWith('.tmp')) {
      try {
        unlinkSync(join(assetsDir, name));
      } catch {
        // removed by a concurrent build
      }
    }
  }
  writeAtomic(join(outDir, 'index.html'), html);
  return { outDir, files: ['index.html', ...files], ms: Math.round(performance.now() - t0) };
}

/** Builds when `mode` is `always`, or `auto` and the build is missing or stale. */
export async function ensureConsoleBuilt(mode: 'auto' | 'always' | 'never', outDir: string = DEFAULT_DIST_DIR): Promise<BuildResult | undefined> {
  if (mode === 'never' || (mode === 'auto' && !needsBuild(outDir))) return undefined;
  return buildConsole({ outDir });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
  const r = await buildConsole({ ...(out ? { outDir: out } : {}), minify: !args.includes('--no-minify') });
  console.log(`console built in ${r.ms} ms: ${r.outDir} (${r.files.join(', ')})`);
}
