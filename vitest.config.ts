import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{cluster,connectors,console,core,egress,registry,telemetry,broker,ingest,storage,simulators,api,cli,privacy,rules,dashboards,bench}/**/*.test.ts', 'tests/walls.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/faults/**', 'tests/walls.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['tests/harness/global-setup.ts'],
        },
      },
      {
        // Slow fault tests (kill -9, SIGSTOP, full disk, storage down for minutes): each file starts
        // its own InfluxDB, node and devices on free ports with its own data dir, so files run in
        // parallel.
        test: {
          name: 'faults',
          include: ['tests/faults/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: true,
          maxWorkers: 4,
          globalSetup: ['tests/harness/global-setup.ts'],
        },
      },
    ],
  },
});
