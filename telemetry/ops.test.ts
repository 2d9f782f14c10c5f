import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { readiness, startOpsServer, type OpsServer } from './ops.ts';

describe('operations endpoints of a role run alone', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers /health, /ready (503 naming what is down and why) and /metrics', async () => {
    const metrics = createMetrics();
    metrics.spoolDepth.set(42);
    let full = false;
    server = await startOpsServer({
      role: 'broker',
      host: '127.0.0.1',
      port: 0,
      metrics,
      logger: silentLogger,
      checks: [
        { name: 'broker', check: () => ({ ok: true }) },
        { name: 'intake', check: () => (full ? { ok: false, detail: 'disk_full: the disk of the spool is full' } : { ok: true }) },
      ],
    });
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok', role: 'broker' });
    const ok = await fetch(`${server.url}/ready`);
    expect(ok.status).toBe(200);
    full = true;
    const down = await fetch(`${server.url}/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'not ready', role: 'broker', reasons: ['intake: disk_full: the disk of the spool is full'] });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('steward_spool_depth 42');
  });

  it('counts a check that throws as failed, with its message', async () => {
    const r = await readiness([{ name: 'storage', check: () => Promise.reject(new Error('connection refused')) }]);
    expect(r).toEqual({ ready: false, checks: { storage: { ok: false, detail: 'connection refused' } } });
  });
});
