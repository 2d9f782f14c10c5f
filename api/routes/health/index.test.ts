import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApi, type TestApi } from '../../testing.ts';

describe('health and readiness', () => {
  let t: TestApi | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('/health answers 200 {status: ok}', async () => {
    t = await makeTestApi();
    const r = await t.app.inject('/health');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('/ready is 200 when storage answers and no broker runs in this process', async () => {
    t = await makeTestApi();
    const r = await t.app.inject('/ready');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ready', checks: { broker: 'not in this process', storage: 'up', intake: 'not in this process' } });
  });

  it('/ready reports the broker and the spool depth when they run here', async () => {
    t = await makeTestApi({ extra: { health: { broker: () => true, ingest: () => ({ spoolDepth: 7 }) } } });
    const r = await t.app.inject('/ready');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ready', checks: { broker: 'up', storage: 'up', intake: 'up' }, spoolDepth: 7 });
  });

  it('/ready is 503 naming the broker when it is down', async () => {
    let up = true;
    t = await makeTestApi({ extra: { health: { broker: () => up } } });
    up = false;
    const r = await t.app.inject('/ready');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({
      statusCode: 503, error: 'Service Unavailable', code: 'API_ERR_NOT_READY', message: 'not ready: broker is down',
      checks: { broker: 'down', storage: 'up', intake: 'not in this process' },
    });
  });

  it('/ready is 503 saying why when the intake holds acknowledgements (spool full)', async () => {
    const pressure = { reason: 'disk_full', message: 'the disk of the spool is full; readings are not acknowledged until space returns' };
    t = await makeTestApi({ extra: { health: { broker: () => true, ingest: () => ({ spoolDepth: 3, pressure }) } } });
    const r = await t.app.inject('/ready');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'API_ERR_NOT_READY', checks: { broker: 'up', storage: 'up', intake: 'down' }, spoolDepth: 3 });
    expect(r.json().message).toContain('disk of the spool is full');
  });

  it('/ready is 503 naming storage when the store does not answer', async () => {
    t = await makeTestApi({ extra: { health: { broker: () => true } } });
    await t.store.stop(); // a closed embedded store answers ping() with false
    const r = await t.app.inject('/ready');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'API_ERR_NOT_READY', message: 'not ready: storage is down', checks: { broker: 'up', storage: 'down' } });
  });

  it('/ready does not hang on a store whose ping never answers', async () => {
    t = await makeTestApi({ extra: { readyTimeoutMs: 100 } });
    // Double: the embedded store cannot hang, so ping is replaced by a promise that never settles.
    t.store.ping = () => new Promise<boolean>(() => undefined);
    const started = Date.now();
    const r = await t.app.inject('/ready');
    expect(r.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
