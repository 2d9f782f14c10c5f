import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  {
    // Rooms stay apart: simulators and the API never reach into ingest or broker internals.
    files: ['simulators/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../ingest/*', '../../ingest/*', '../broker/*', '../../broker/*', '../storage/*', '../../storage/*'] }] },
  },
  {
    files: ['api/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../ingest/*', '../../ingest/*', '../broker/*', '../../broker/*', '../storage/sqlite*', '../storage/influx*'] }] },
  },
  {
    files: ['core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../ingest/*', '../broker/*', '../storage/*', '../api/*', '../simulators/*', '../cli/*'] }] },
  },
);
