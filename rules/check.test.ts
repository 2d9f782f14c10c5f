import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkRules, DEFAULT_RULES_DIR } from './check.ts';

const TESTDATA = fileURLToPath(new URL('./testdata/', import.meta.url));

describe('steward rules check', () => {
  it('the shipped default rules pass', () => {
    // Scenario: `steward rules check` on rules/defaults.
    const r = checkRules(DEFAULT_RULES_DIR);
    expect(r.errors).toEqual([]);
    // Every YAML file of the folder is read: a new rule file needs no edit here.
    const shipped = readdirSync(DEFAULT_RULES_DIR).filter((f) => /\.ya?ml$/.test(f)).map((f) => `rules/defaults/${f}`).sort();
    expect(shipped).toContain('rules/defaults/demo.yaml');
    expect(r).toMatchObject({ ok: true });
    expect([...r.files].sort()).toEqual(shipped);
    expect(r.rules).toBeGreaterThanOrEqual(10);
  });

  it('the good examples pass', () => {
    // Scenario: testdata/good holds one rule of every kind.
    expect(checkRules(join(TESTDATA, 'good'))).toMatchObject({ ok: true, errors: [], rules: 6 });
  });

  const bad = readdirSync(TESTDATA).filter((f) => f.endsWith('.bad.yaml'));
  it('a misspelt field is named, with the likely intended one, besides the missing one', () => {
    expect(checkRules(join(TESTDATA, 'unknown-field.bad.yaml')).errors).toEqual([
      'rules/testdata/unknown-field.bad.yaml: rule "soil-carbon-decline": window: is required (line 3)',
      'rules/testdata/unknown-field.bad.yaml: rule "soil-carbon-decline": windw: unknown field (did you mean window?) (line 6)',
    ]);
  });

  it.each(bad)('%s fails with the message it announces', (file) => {
    // Scenario: each broken example starts with `# expect: <the error line>`.
    const expected = /^# expect: (.*)$/m.exec(readFileSync(join(TESTDATA, file), 'utf8'))?.[1];
    const r = checkRules(join(TESTDATA, file));
    expect(r.ok).toBe(false);
    expect(r.errors.filter((e) => e.startsWith(expected as string))).toHaveLength(1);
  });

  it('a rule id used in two files is refused, naming both', () => {
    // Scenario: testdata/duplicate/{a,b}.yaml both define battery-low.
    const r = checkRules(join(TESTDATA, 'duplicate'));
    expect(r.errors).toEqual(['rules/testdata/duplicate/b.yaml: rule "battery-low": id is used twice (also in rules/testdata/duplicate/a.yaml line 2); rule ids must be unique (line 2)']);
  });

  it('a path that does not exist is an error, not an empty rule set', () => {
    expect(checkRules('rules/testdata/nowhere')).toMatchObject({ ok: false, errors: ['rules/testdata/nowhere: cannot read: ENOENT'] });
  });

  it('reports every problem of a file, not just the first', () => {
    // Scenario: the whole testdata directory (all broken files at once).
    const r = checkRules(TESTDATA.replace(/\/$/, ''));
    expect(r.ok).toBe(false);
    expect(r.errors.length).toBeGreaterThanOrEqual(bad.length + 1);
  });
});
