/**
 * The artifact a hub installs: `npm pack` of this checkout (built by the globalSetup, as by
 * `npm run build`), unpacked next to a node_modules holding only the production dependencies of
 * package-lock.json (no tsx, esbuild or typescript). The package ships the compiled code and the
 * files it reads and nothing else (no sources, tests or bench); `steward` runs from it with no
 * loader, finds its rules, privacy policy and console bundle, and serves the console; without a
 * build, `bin/steward.js` and the API roles say to run `npm run build`.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/services.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where every shipped file must live (npm adds package.json and README.md itself). */
const SHIPPED = /^(bin\/|dist\/|rules\/defaults\/|privacy\/policies\/|dashboards\/(json|provisioning)\/|package\.json$|README\.md$|LICENSE$)/;

describe('the packed package', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'steward-pack-'));
  const pkg = join(tmp, 'package');
  let files: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, STEWARD_DATA_DIR: join(tmp, 'data'), STEWARD_HTTP_PORT: '0', STEWARD_MQTT_PORT: '0', STEWARD_WS_PORT: '0', STEWARD_LOG_LEVEL: 'info', NODE_OPTIONS: '' };
  delete env.STEWARD_CONFIG;
  const steward = (...args: string[]) => runCli(process.execPath, [join(pkg, 'bin', 'steward.js'), ...args], { env, cwd: tmp, timeoutMs: 30_000 });

  beforeAll(async () => {
    // --ignore-scripts: no second build (the globalSetup built dist/ when it was stale).
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed!.files.map((f) => f.path).sort();
    await run('tar', ['-xzf', join(tmp, packed!.filename), '-C', tmp]);
    // node_modules: the production dependencies of the lock, linked from this checkout's.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.startsWith('node_modules/') || path.slice('node_modules/'.length).includes('/node_modules/') || entry.dev) continue;
      const target = join(ROOT, path);
      if (!existsSync(target)) continue; // an optional dependency for another platform
      mkdirSync(dirname(join(pkg, path)), { recursive: true });
      symlinkSync(target, join(pkg, path));
    }
  }, 120_000);

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('ships the compiled CLI, the console bundle and the files read at runtime, and no source, test or bench file', () => {
    expect(files.filter((f) => !SHIPPED.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ts$|\.test\.|(^|\/)(tests|bench|testdata)\//.test(f))).toEqual([]);
    for (const f of ['bin/steward.js', 'dist/cli/steward.js', 'dist/core/paths.js', 'dist/console/index.html', 'rules/defaults/demo.yaml', 'privacy/policies/default.yaml']) expect(files).toContain(f);
    expect(files.some((f) => /^dist\/console\/assets\/app-[A-Z0-9]+\.js$/.test(f))).toBe(true);
    // Testing helpers production code does not import stay out too.
    expect(files.filter((f) => /testing\.js$/.test(f))).toEqual([]);
  });

  it('runs with the production dependencies only: no tsx, esbuild or typescript to load', async () => {
    for (const dev of ['tsx', 'esbuild', 'typescript', 'vitest']) expect(existsSync(join(pkg, 'node_modules', dev)), dev).toBe(false);
    const version = await steward('--version');
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    const list = await steward('sim', '--list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^groundwater\s+water\s/m);
    const rules = await steward('rules', 'check');
    expect(rules.stdout).toMatch(/^OK: \d+ rule\(s\) in 1 file\(s\)/);
    // Found from the package root, not from the working directory.
    expect(rules.stdout).toContain(join(pkg, 'rules', 'defaults'));
  });

  it('starts from the package and serves the built console and the shipped privacy policy', async () => {
    const child = spawn(process.execPath, [join(pkg, 'bin', 'steward.js'), 'start', '--no-sim'], { env, cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/Stop with Ctrl\+C/.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`steward start did not come up:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const api = /Latest readings\s+(http:\/\/localhost:\d+)\//.exec(out)![1]!;
      // Bounded waits: a hang fails with what the process said, not with the test's timeout.
      const fetch = (url: string): Promise<Response> => globalThis.fetch(url, { signal: AbortSignal.timeout(10_000) });
      const page = await fetch(`${api}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const script = /src="\/(assets\/app-[A-Z0-9]+\.js)"/.exec(html)![1]!;
      expect((await fetch(`${api}/${script}`)).status).toBe(200);
      // No build at start: the bundle is the one that was packed.
      expect(out).not.toContain('console assets built');
      const policy = await fetch(`${api}/api/v1/privacy/policy`);
      expect(policy.status).toBe(200);
      expect(JSON.stringify(await policy.json())).toContain('default-');
    } finally {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 30_000)))]);
      clearTimeout(timer);
      if (code === 'hung') child.kill('SIGKILL');
      expect(code, `steward start after SIGTERM:\n${out}`).toBe(0);
    }
  }, 90_000);

  it('without the console bundle the API roles refuse to start and say to build', async () => {
    const bare = join(tmp, 'no-console');
    cpSync(pkg, bare, { recursive: true, verbatimSymlinks: true, filter: (src) => !src.startsWith(join(pkg, 'dist', 'console', 'index.html')) });
    for (const role of ['api', 'start']) {
      const r = await runCli(process.execPath, [join(bare, 'bin', 'steward.js'), role], { env, cwd: tmp, timeoutMs: 30_000 });
      expect(r.code, role).toBe(1);
      expect(r.stderr).toContain('the console is not built');
      expect(r.stderr).toContain('run npm run build');
    }
  });

  it('without dist/, bin/steward.js says to run npm run build', async () => {
    const bare = join(tmp, 'unbuilt');
    cpSync(join(pkg, 'bin'), join(bare, 'bin'), { recursive: true });
    cpSync(join(pkg, 'package.json'), join(bare, 'package.json'));
    const r = await runCli(process.execPath, [join(bare, 'bin', 'steward.js'), '--version'], { env, cwd: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^steward: not built \(.*dist\/cli\/steward\.js is missing\): run npm run build\n$/);
  });
});
