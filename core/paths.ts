/**
 * Where the package's own files are. Files read at runtime by path (default rules, the default
 * privacy policy, the built console, package.json) are named from the package root, the folder
 * holding package.json, so the same line works from the sources (`core/paths.ts`, under tsx or
 * vitest) and compiled (`dist/core/paths.js`), and a module can move without its assets moving.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `from` that holds a package.json. */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or above it`);
  }
}

/** Absolute path of the package root (the folder with package.json, bin/ and, once built, dist/). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of a file or folder of the package, from its root: `packagePath('rules', 'defaults')`. */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}

let version: string | undefined;

/** The package's version (package.json). */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
  return version;
}
