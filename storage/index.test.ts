import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createStore } from './index.ts';

describe('createStore', () => {
  it('is the embedded store unless storage.influx is set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'steward-store-'));
    try {
      const store = createStore(parseConfig({ dataDir }), { logger: silentLogger });
      expect(store.kind).toBe('embedded');
      await store.start();
      expect(await store.ping()).toBe(true);
      await store.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('is InfluxDB v1 with a database, v2 with org/bucket/token (the API inferred or given)', () => {
    const v1 = createStore(parseConfig({ storage: { influx: { url: 'http://127.0.0.1:8086', database: 'steward' } } }), { logger: silentLogger });
    expect(v1.kind).toBe('influxdb-v1');
    const v2 = createStore(parseConfig({ storage: { influx: { url: 'http://127.0.0.1:8086', org: 'hub', bucket: 'steward', token: 't' } } }), { logger: silentLogger });
    expect(v2.kind).toBe('influxdb-v2');
    const forced = createStore(parseConfig({ storage: { influx: { url: 'http://127.0.0.1:8086', api: 'v1', database: 'd', username: 'u', password: 'p' } } }), { logger: silentLogger });
    expect(forced.kind).toBe('influxdb-v1');
  });
});
