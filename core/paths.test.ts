import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, packagePath, packageVersion } from './paths.ts';

describe('package paths', () => {
  it('the package root is the folder with package.json, one above core/', () => {
    // Scenario: run from the sources (vitest, tsx); compiled, dist/core/paths.js finds the same folder.
    expect(PACKAGE_ROOT).toBe(fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''));
    expect(existsSync(join(PACKAGE_ROOT, 'package.json'))).toBe(true);
  });

  it('names the assets read at runtime from the root', () => {
    expect(existsSync(packagePath('rules', 'defaults', 'demo.yaml'))).toBe(true);
    expect(existsSync(packagePath('privacy', 'policies', 'default.yaml'))).toBe(true);
  });

  it('reads the version from package.json', () => {
    expect(packageVersion()).toBe((JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version);
  });
});
