/**
 * The technician's recipe (README "Adding a simulator") followed in a scratch copy of the
 * repository, as a newcomer would: copy the template folder, make it a `snow-depth` gauge with a
 * metric of its own, add the one registration line (and, since the metric is new, its catalogue
 * line and `npm run docs:schema`) and a rule file for it, then typecheck, lint the folder and run
 * the unit tests of simulators/, cli/, rules/, console/ and dashboards/ that a new kind touches. Nothing else is edited: if a
 * test, a generated doc or the demo needs another edit, this fails, so the recipe cannot rot.
 * No services; node_modules is a symlink to this checkout's; like a fresh clone, the copy has no
 * dist/ until `npm run docs:schema` builds it (the `steward` command runs the compiled code).
 */
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KIND = 'snow-depth';
/** The README's text with its line breaks and indents as single spaces. */
const README = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
/** The steps this test performs, as the README words them (a changed recipe must change this test too). */
const STEPS = {
  copy: '`cp -r simulators/_template simulators/<kind>`',
  rename: "In `index.ts` and `index.test.ts`, replace `'template'` with `'<kind>'`",
  register: "one line in `simulators/registered.ts`, e.g. `export { default as snowDepth } from './snow-depth/index.ts';`",
  metric: 'a line in `core/catalogue.ts`',
  docs: '`npm run docs:schema`',
  rule: 'A rule for it is one more YAML file in `rules/defaults/`',
  check: '`npx vitest run --project unit simulators/ cli/ rules/ console/` and `npx eslint simulators/<kind>`',
};
/** The unit tests run in the copy: everything a simulator reaches (the registry, fleets, scenarios, the CLI, rules, the console). */
const SUITES = ['simulators/fleet.test.ts', `simulators/${KIND}/`, 'simulators/runner.test.ts', 'simulators/scenarios.test.ts', 'simulators/truth.test.ts', 'cli/', 'rules/check.test.ts', 'console/', 'dashboards/'];
/** The rule file the test adds for the new metric. */
const RULE = `hub: demo
rules:
  - id: snow-deep
    kind: threshold
    title: Snow depth
    select: { metric: snow_depth }
    above: 900
`;

/** Runs a command in the copy; on failure the error carries its output. */
async function sh(dir: string, cmd: string, args: string[]): Promise<string> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'FORCE_COLOR')), NO_COLOR: '1' };
  try {
    const { stdout } = await run(cmd, args, { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in the scratch copy:\n${x.stdout ?? ''}\n${x.stderr ?? ''}\n${x.message}`, { cause: e });
  }
}

function edit(file: string, fn: (text: string) => string): void {
  const before = readFileSync(file, 'utf8');
  const after = fn(before);
  expect(after, `${file} changed`).not.toBe(before);
  writeFileSync(file, after);
}

describe('adding a simulator by the README recipe', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-recipe-'));
    cpSync(ROOT, dir, { recursive: true, filter: (src) => !['node_modules', '.git', 'dist', '.tmp'].includes(relative(ROOT, src).split(sep)[0] ?? '') });
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the README states the steps this test follows', () => {
    for (const [step, words] of Object.entries(STEPS)) expect(README.includes(words), `README step "${step}": ${words}`).toBe(true);
  });

  it('one folder and one line give a registered, listed, demo-fleet simulator, and the tests pass', async () => {
    // 1. The folder, from the template.
    await sh(dir, 'cp', ['-r', 'simulators/_template', `simulators/${KIND}`]);
    const folder = join(dir, 'simulators', KIND);
    // 2-5. Its own interval, kind, metric and physics (a snow gauge that reads every half hour).
    edit(join(folder, 'config.ts'), (s) => s.replace('simConfig(\n  // Default interval: a reading every 10 simulated minutes.\n  600,', 'simConfig(\n  1800,'));
    for (const f of ['index.ts', 'index.test.ts']) edit(join(folder, f), (s) => s.replaceAll("'template'", `'${KIND}'`).replaceAll('water_temperature', 'snow_depth'));
    edit(join(folder, 'index.ts'), (s) => s.replace(/description: '[^']*'/, "description: 'Snow gauge: depth of lying snow (cm) over the hub, from the air temperature.'"));
    // 6. The registration line.
    appendFileSync(join(dir, 'simulators', 'registered.ts'), "export { default as snowDepth } from './snow-depth/index.ts';\n");
    // A metric the catalogue lacks: its line, then the generated schema docs.
    edit(join(dir, 'core', 'catalogue.ts'), (s) => s.replace("      m('water_temperature',", "      m('snow_depth', 'water', 'cm', 0, 1000, 'Depth of lying snow'),\n      m('water_temperature',"));
    await sh(dir, 'npm', ['run', 'docs:schema']);
    // A rule for it: one more file in rules/defaults/.
    writeFileSync(join(dir, 'rules', 'defaults', 'snow.yaml'), RULE);
    expect(await sh(dir, 'node', ['bin/steward.js', 'rules', 'check'])).toMatch(/^OK: \d+ rule\(s\) in 2 file\(s\)/);

    expect(existsSync(join(folder, 'README.md'))).toBe(true);
    expect(readFileSync(join(dir, 'docs', 'schema', 'reading.json'), 'utf8')).toContain('"snow_depth"');
    // Listed from the registry, with its own interval (the config sets none).
    const list = await sh(dir, 'node', ['bin/steward.js', 'sim', '--list']);
    expect(list).toMatch(/^snow-depth\s+water\s+1800s\s+snow_depth \(cm\)\s+Snow gauge/m);
    // 7-8. Typecheck, lint the folder, run the tests a new simulator touches (a failure exits non-zero and throws).
    await sh(dir, 'node_modules/.bin/tsc', ['--noEmit', '-p', 'tsconfig.json']);
    await sh(dir, 'node_modules/.bin/eslint', [`simulators/${KIND}`]);
    const out = await sh(dir, 'node_modules/.bin/vitest', ['run', '--project', 'unit', ...SUITES]);
    expect(out).toContain(`simulators/${KIND}/index.test.ts`);
    expect(out).toMatch(/Test Files\s+\d+ passed \(\d+\)/);
  }, 420_000);
});
