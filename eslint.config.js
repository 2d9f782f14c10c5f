import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

/**
 * The walls between roles (docs/architecture.md "Walls"). core/ and telemetry/ are shared by every
 * role. A role's production code may use another role only where this table says so, and then only
 * through its public face (`index.ts`); its tests and test helpers may use any role's public face.
 * cli/ is the composition root. Paths are resolved before they are matched, so `../../../x/y.ts`
 * and `../x/y.ts` are the same import.
 */
export const MAY_USE = {
  core: [],
  telemetry: [],
  simulators: [],
  privacy: [],
  registry: [],
  storage: [],
  rules: [],
  ingest: ['registry', 'storage'],
  egress: ['privacy'],
  broker: ['ingest', 'registry', 'storage'],
  connectors: ['ingest', 'registry', 'storage'],
  api: ['privacy', 'registry', 'storage'],
  console: [],
  cluster: ['broker', 'egress', 'ingest', 'registry', 'rules'],
  dashboards: ['rules', 'storage'],
  cli: ['api', 'broker', 'cluster', 'connectors', 'console', 'egress', 'ingest', 'privacy', 'registry', 'rules', 'simulators', 'storage'],
};
const SHARED = ['core', 'telemetry'];
const ROLES = Object.keys(MAY_USE);
const TESTS = ['**/*.test.ts', '**/testing.ts', '**/testing/**'];

function zones(role, tests) {
  const out = [];
  for (const other of ROLES) {
    if (other === role || SHARED.includes(other)) continue;
    const allowed = tests || MAY_USE[role].includes(other);
    out.push({
      target: `./${role}`,
      from: `./${other}`,
      ...(allowed ? { except: tests ? ['./index.ts', './testing.ts'] : ['./index.ts'] } : {}),
      message: allowed
        ? `${role}/ may use ${other}/ only through ${other}/index.ts (docs/architecture.md "Walls")`
        : `${role}/ may not import ${other}/ (docs/architecture.md "Walls")`,
    });
  }
  // core/ is the bottom: it imports nothing of the project; telemetry/ imports only core/.
  if (role === 'core') out.push({ target: './core', from: './telemetry', message: 'core/ imports nothing of the project (docs/architecture.md "Walls")' });
  return out;
}

function walls() {
  return ROLES.flatMap((role) => [
    { files: [`${role}/**/*.{ts,tsx}`], ignores: TESTS, plugins: { 'import-x': importX }, settings: { 'import-x/resolver-next': [createNodeResolver()] }, rules: { 'import-x/no-restricted-paths': ['error', { zones: zones(role, false) }] } },
    { files: TESTS.map((t) => `${role}/${t}`), plugins: { 'import-x': importX }, settings: { 'import-x/resolver-next': [createNodeResolver()] }, rules: { 'import-x/no-restricted-paths': ['error', { zones: zones(role, true) }] } },
  ]);
}

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', 'bench/results/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...walls(),
);
