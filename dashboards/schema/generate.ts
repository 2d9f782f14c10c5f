/**
 * JSON Schema of Grafana dashboards, derived from the types Grafana publishes in `@grafana/schema`
 * (generated there from Grafana's CUE kinds), never written by hand:
 *
 * - the dashboard: `Dashboard` of `dist/types/raw/dashboard/x/types.gen.d.ts` (the classic JSON
 *   model that file provisioning loads);
 * - each panel plugin used here: `Options` and, where the plugin has one, `FieldConfig` of
 *   `dist/types/raw/composable/<plugin>/panelcfg/x/types.gen.d.ts`, for `options` and
 *   `fieldConfig.defaults.custom` (the dashboard type leaves both as open records).
 *
 * Conversion is by ts-json-schema-generator with `additionalProperties: false`, so a misspelt key
 * fails. Grafana's CUE source leaves three definitions open (`...`) that the TypeScript
 * generator closes: `AnnotationTarget` ("datasource will stick their raw DataQuery here"),
 * `AnnotationQuery` and `VariableModel` (kinds/dashboard/dashboard_kind.cue); they are reopened
 * here and nothing else is changed.
 *
 *     npx tsx dashboards/schema/generate.ts   # rewrites grafana-dashboard.schema.json
 *
 * Needs the dev dependencies `@grafana/schema`, `ts-json-schema-generator`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, createGenerator } from 'ts-json-schema-generator';

type JsonSchema = Record<string, unknown> & { definitions?: Record<string, Record<string, unknown>> };

/** Panel plugins the Steward dashboards use (a test fails if a dashboard uses another). */
export const PANEL_TYPES = ['timeseries', 'stat', 'bargauge', 'table', 'text'] as const;

/** Definitions Grafana's CUE leaves open (`...`), which the TS → JSON Schema conversion closes. */
export const OPEN_IN_CUE = ['AnnotationTarget', 'AnnotationQuery', 'VariableModel'] as const;

/** The committed schema (for editors and review; the tests regenerate and compare it). */
export const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), 'grafana-dashboard.schema.json');

export interface GrafanaSchemas {
  /** Version of `@grafana/schema` the schema was derived from. */
  source: string;
  dashboard: JsonSchema;
  /** Per panel type: schema of `options`, and of `fieldConfig.defaults.custom` when the plugin defines one. */
  panels: Record<string, { options: JsonSchema; fieldConfig?: JsonSchema }>;
}

const require = createRequire(import.meta.url);

function grafanaSchemaRoot(): { root: string; version: string } {
  const pkgPath = require.resolve('@grafana/schema/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  return { root: dirname(pkgPath), version: pkg.version };
}

function generator(path: string) {
  const config: Config = { path, type: '*', skipTypeCheck: true, expose: 'export', topRef: true, jsDoc: 'none', additionalProperties: false, sortProps: true };
  return createGenerator(config);
}

/** True when the `.d.ts` file itself declares `export interface <name>`. */
function declares(path: string, name: string): boolean {
  return new RegExp(`^export interface ${name}\\b`, 'm').test(readFileSync(path, 'utf8'));
}

/**
 * Derives the schemas from the installed `@grafana/schema`.
 *
 * @throws Error when `@grafana/schema` or a panel's types are missing
 */
export function generateGrafanaSchemas(panelTypes: readonly string[] = PANEL_TYPES): GrafanaSchemas {
  const { root, version } = grafanaSchemaRoot();
  const dashPath = join(root, 'dist/types/raw/dashboard/x/types.gen.d.ts');
  const dashboard = generator(dashPath).createSchema('Dashboard') as JsonSchema;
  for (const name of OPEN_IN_CUE) {
    const def = dashboard.definitions?.[name];
    if (!def) throw new Error(`@grafana/schema ${version}: no ${name} in the dashboard types`);
    delete def.additionalProperties;
  }
  const panels: GrafanaSchemas['panels'] = {};
  for (const type of panelTypes) {
    const path = join(root, `dist/types/raw/composable/${type}/panelcfg/x/types.gen.d.ts`);
    const gen = generator(path);
    panels[type] = { options: gen.createSchema('Options') as JsonSchema };
    if (declares(path, 'FieldConfig')) panels[type].fieldConfig = gen.createSchema('FieldConfig') as JsonSchema;
  }
  return { source: `@grafana/schema@${version}`, dashboard, panels };
}

/** The committed file's text for `schemas`. */
export function renderSchemas(schemas: GrafanaSchemas): string {
  return `${JSON.stringify(schemas, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const schemas = generateGrafanaSchemas();
  writeFileSync(SCHEMA_FILE, renderSchemas(schemas));
  console.log(`wrote ${SCHEMA_FILE} from ${schemas.source}`);
}
