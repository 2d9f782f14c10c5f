/**
 * The API on a real socket: startApi on port 0, requests with fetch, close frees the port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../api/server.ts';
import { parseConfig } from '../core/config.ts';
import { Registry } from '../registry/registry.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createEmbeddedStore } from '../storage/embedded.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';

describe('startApi over a real socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-api-server-'));
  const config = parseConfig({ dataDir: dir, http: { host: '127.0.0.1', port: 0, tokens: [{ name: 'ops', token: 'technician-token-123456', role: 'technician' }] } });
  const registry = Registry.open(dir);
  const deadLetters = new DeadLetterStore(dir);
  const store = createEmbeddedStore({ dataDir: dir, logger: silentLogger, retentionDays: 0 });
  let api: RunningApi;

  beforeAll(async () => {
    await store.start();
    await registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', password: 'password-1' });
    await store.write([{ hub: 'demo', domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'water', ts: Date.now() - 1000, seq: 1, metrics: { groundwater_level: 4.2 } }]);
    api = await startApi({ config, store, registry, deadLetters, metrics: createMetrics(), logger: silentLogger });
  });
  afterAll(async () => {
    await api?.close();
    await store.stop();
    registry.close();
    deadLetters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds a free port and serves JSON', async () => {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${api.url}/api/v1/readings/latest?hub=demo`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ readings: [{ sensor: 'well-1', metric: 'groundwater_level', value: 4.2, unit: 'm' }] });
  });

  it('serves sensors, health, readiness, metrics and the OpenAPI document', async () => {
    const sensors = (await (await fetch(`${api.url}/api/v1/sensors`)).json()) as { sensors: Array<{ online: boolean }> };
    expect(sensors.sensors).toEqual([expect.objectContaining({ sensor: 'well-1', online: true })]);
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    expect(await (await fetch(`${api.url}/ready`)).json()).toMatchObject({ status: 'ready' });
    expect(await (await fetch(`${api.url}/metrics`)).text()).toContain('steward_readings_accepted_total');
    expect(Object.keys(((await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: object }).paths)).toContain('/api/v1/readings');
  });

  it('checks bearer tokens over HTTP', async () => {
    expect((await fetch(`${api.url}/api/v1/rejections`)).status).toBe(401);
    const ok = await fetch(`${api.url}/api/v1/rejections`, { headers: { authorization: 'Bearer technician-token-123456' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ rejections: [], next: null });
  });

  it('close() frees the port', async () => {
    const other = await startApi({ config, store, registry, deadLetters, metrics: createMetrics(), logger: silentLogger });
    const port = Number(new URL(other.url).port);
    await other.close();
    await new Promise<void>((resolve, reject) => {
      const srv = createServer().once('error', reject);
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
    });
    await expect(fetch(`${other.url}/health`)).rejects.toThrow();
  });
});
