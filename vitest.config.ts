import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{console,core,registry,telemetry,broker,ingest,storage,simulators,api,cli,privacy,rules,dashboards,bench}/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['tests/harness/global-setup.ts'],
        },
      },
    ],
  },
});
