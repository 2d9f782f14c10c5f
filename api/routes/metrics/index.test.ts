import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApi, type TestApi } from '../../testing.ts';

describe('GET /metrics', () => {
  let t: TestApi | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('serves the pipeline metrics in the Prometheus text format', async () => {
    t = await makeTestApi({ extra: { health: { ingest: () => ({ spoolDepth: 42 }) } } });
    t.metrics.readingsAccepted.inc({ hub: 'demo', domain: 'water' }, 3);
    t.metrics.readingsRejected.inc({ code: 'out_of_range' });
    t.metrics.storageWriteSeconds.observe({ store: 'embedded', outcome: 'ok' }, 0.004);
    t.metrics.connectedClients.set(5);
    const r = await t.app.inject('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = r.body;
    expect(text).toContain('steward_readings_accepted_total{hub="demo",domain="water"} 3');
    expect(text).toContain('steward_readings_rejected_total{code="out_of_range"} 1');
    expect(text).toContain('steward_spool_depth 42');
    expect(text).toMatch(/steward_storage_write_seconds_bucket\{le="0.005",store="embedded",outcome="ok"\} 1/);
    expect(text).toContain('steward_mqtt_connected_clients 5');
  });
});
