/**
 * The walls between roles are lint rules (eslint.config.js, docs/architecture.md "Walls"): this
 * proves they bite. Each case lints a probe file that is never written to disk, placed inside a
 * role folder, with the project's real config; the imported files are real, so paths resolve.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function wallErrors(probe: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, probe) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'import-x/no-restricted-paths').map((m) => m.message);
}

describe('walls between roles', () => {
  it("refuses a role reaching into another role's internals", async () => {
    const errors = await wallErrors('ingest/wall-probe.ts', "import { createEmbeddedStore } from '../storage/embedded.ts';\nexport const s = createEmbeddedStore;\n");
    expect(errors).toEqual([expect.stringContaining('ingest/ may use storage/ only through storage/index.ts (docs/architecture.md "Walls")')]);
  });

  it('allows the same role through its public face', async () => {
    expect(await wallErrors('ingest/wall-probe.ts', "import { createEmbeddedStore } from '../storage/index.ts';\nexport const s = createEmbeddedStore;\n")).toEqual([]);
  });

  it('refuses an edge the architecture does not draw, even through index.ts', async () => {
    const errors = await wallErrors('rules/wall-probe.ts', "import { createStore } from '../storage/index.ts';\nexport const s = createStore;\n");
    expect(errors).toEqual([expect.stringContaining('rules/ may not import storage/ (docs/architecture.md "Walls")')]);
  });

  it('matches deep relative paths after resolving them', async () => {
    const errors = await wallErrors('api/routes/probe/index.ts', "import { createEmbeddedStore } from '../../../storage/embedded.ts';\nexport const s = createEmbeddedStore;\n");
    expect(errors).toHaveLength(1);
  });

  it('keeps core/ at the bottom', async () => {
    const errors = await wallErrors('core/wall-probe.ts', "import type { Logger } from '../telemetry/log.ts';\nexport type L = Logger;\n");
    expect(errors).toEqual([expect.stringContaining('core/ imports nothing of the project (docs/architecture.md "Walls")')]);
  });

  it('lets tests use any role through its public face, never its internals', async () => {
    expect(await wallErrors('rules/wall-probe.test.ts', "import { createStore } from '../storage/index.ts';\nexport const s = createStore;\n")).toEqual([]);
    expect(await wallErrors('rules/wall-probe.test.ts', "import { createEmbeddedStore } from '../storage/embedded.ts';\nexport const s = createEmbeddedStore;\n")).toHaveLength(1);
  });
});
