/**
 * Scenario: a steward drops dashboards/json/ into Grafana's provisioning. Every file must parse and
 * conform to Grafana's dashboard schema, derived at test time from the types Grafana publishes in
 * `@grafana/schema` (dashboards/schema/generate.ts), panel options included; and the schema must
 * actually reject the mistakes it is here to catch.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { allPanels } from '../dashboards/lib/walk.ts';
import { JSON_DIR } from '../dashboards/src/build.ts';
import { type GrafanaSchemas, PANEL_TYPES, SCHEMA_FILE, generateGrafanaSchemas, renderSchemas } from '../dashboards/schema/generate.ts';

type Any = Record<string, unknown>;

let schemas: GrafanaSchemas;
let validateDashboard: ValidateFunction;
const validatePanel = new Map<string, { options: ValidateFunction; custom?: ValidateFunction }>();

const files = readdirSync(JSON_DIR).filter((f) => f.endsWith('.json'));

/** Schema problems of one dashboard object, as readable lines (empty when it conforms). */
function problems(d: Any): string[] {
  const out: string[] = [];
  if (!validateDashboard(d)) out.push(...(validateDashboard.errors ?? []).map((e) => `dashboard${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`));
  for (const p of allPanels(d)) {
    if (p.type === 'row') continue;
    const where = `panel "${String(p.title)}"`;
    const v = validatePanel.get(String(p.type));
    if (!v) {
      out.push(`${where}: panel type ${String(p.type)} is not one the schema was derived for (${PANEL_TYPES.join(', ')})`);
      continue;
    }
    if (!v.options(p.options ?? {})) out.push(...(v.options.errors ?? []).map((e) => `${where} options${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`));
    const custom = ((p.fieldConfig as Any | undefined)?.defaults as Any | undefined)?.custom;
    if (custom !== undefined) {
      if (!v.custom) out.push(`${where}: fieldConfig.defaults.custom set, but ${String(p.type)} defines no field config`);
      else if (!v.custom(custom)) out.push(...(v.custom.errors ?? []).map((e) => `${where} fieldConfig.defaults.custom${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`));
    }
  }
  return out;
}

beforeAll(() => {
  schemas = generateGrafanaSchemas();
  const ajv = new Ajv({ allErrors: true, strict: false });
  validateDashboard = ajv.compile(schemas.dashboard);
  for (const [type, s] of Object.entries(schemas.panels)) {
    const entry: { options: ValidateFunction; custom?: ValidateFunction } = { options: ajv.compile(s.options) };
    if (s.fieldConfig) entry.custom = ajv.compile(s.fieldConfig);
    validatePanel.set(type, entry);
  }
});

describe('the schema', () => {
  it('is derived from @grafana/schema and matches the committed copy (regenerate with npx tsx dashboards/schema/generate.ts)', () => {
    expect(schemas.source).toMatch(/^@grafana\/schema@\d+\./);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderSchemas(schemas));
  });
});

describe.each(files)('%s', (file) => {
  const text = readFileSync(join(JSON_DIR, file), 'utf8');

  it('parses as JSON and conforms to Grafana’s dashboard schema, panel options included', () => {
    const d = JSON.parse(text) as Any;
    expect(problems(d)).toEqual([]);
  });
});

describe('the schema catches mistakes', () => {
  const sample = (): Any => JSON.parse(readFileSync(join(JSON_DIR, 'watershed.json'), 'utf8')) as Any;
  const firstOf = (d: Any, type: string): Any => allPanels(d).find((p) => p.type === type) as Any;

  it('a misspelt dashboard key', () => {
    const d = sample();
    d.templateing = d.templating;
    expect(problems(d).join('\n')).toMatch(/additional properties.*templateing/);
  });

  it('a missing schemaVersion', () => {
    const d = sample();
    delete d.schemaVersion;
    expect(problems(d).join('\n')).toMatch(/schemaVersion/);
  });

  it('an unknown threshold mode', () => {
    const d = sample();
    ((firstOf(d, 'timeseries').fieldConfig as Any).defaults as Any).thresholds = { mode: 'relative', steps: [] };
    expect(problems(d).join('\n')).toMatch(/thresholds\/mode/);
  });

  it('time series options without a legend', () => {
    const d = sample();
    delete (firstOf(d, 'timeseries').options as Any).legend;
    expect(problems(d).join('\n')).toMatch(/options: must have required property 'legend'/);
  });

  it('a wrong draw style in the field config', () => {
    const d = sample();
    (((firstOf(d, 'timeseries').fieldConfig as Any).defaults as Any).custom as Any).drawStyle = 'area';
    expect(problems(d).join('\n')).toMatch(/custom\/drawStyle/);
  });

  it('a panel type the schema does not know', () => {
    const d = sample();
    firstOf(d, 'stat').type = 'graph';
    expect(problems(d).join('\n')).toMatch(/panel type graph/);
  });
});
