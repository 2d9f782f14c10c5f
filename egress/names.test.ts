import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Registry } from '../registry/index.ts';
import { NameBook, registryAccountNames } from './names.ts';
import { scrubText } from '../privacy/index.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'steward-names-'));
  dirs.push(d);
  return d;
};

it('learns observer names once, in any Unicode form, and still knows them after a restart', () => {
  const dir = tmp();
  const book = new NameBook({ dataDir: dir });
  expect(book.learn('Éloïse Marchetti')).toBe(true);
  expect(book.learn('E\u0301loi\u0308se   Marchetti')).toBe(false);
  expect(book.learn('x')).toBe(false);
  book.close();
  const again = new NameBook({ dataDir: dir });
  expect(again.names()).toEqual(['Éloïse Marchetti']);
  expect(again.learn('eloise marchetti')).toBe(false);
  expect(scrubText('ask eloise marchetti', [], { names: again.matcher() }).text).toBe('ask [name removed]');
  again.close();
});

it("reads the registry's account holders, and again when they change", async () => {
  const dir = tmp();
  const clock = { t: 0 };
  const book = new NameBook({ sources: [registryAccountNames(dir)], refreshMs: 1000, now: () => clock.t });
  expect(book.names()).toEqual([]); // no registry yet
  const registry = Registry.open(dir);
  await registry.addAccount({ name: 'margit-oyelaran', role: 'hub', hub: 'demo', password: 'a-long-password-1' });
  clock.t = 2000;
  expect(book.names()).toEqual(['margit-oyelaran']);
  expect(scrubText('thanks to Margit Oyelaran', [], { names: book.matcher() }).text).toBe('thanks to [name removed]');
  registry.close();
  book.close();
});

it('a source that throws is skipped', () => {
  const book = new NameBook({
    sources: [
      () => {
        throw new Error('unreadable');
      },
      () => ['Ann Lee'],
    ],
  });
  expect(book.names()).toEqual(['Ann Lee']);
  book.close();
});
