import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredReading } from '../core/store.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { expectNoPersonalData } from '../tests/harness/privacy.ts';
import { type OutboxRow, type Upstream, createUpstream, scrubAlertPayload } from './upstream.ts';
import { type TestBroker, startTestBroker } from './testing.ts';

const T0 = Date.UTC(2025, 4, 1, 12, 0);
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function record(i: number): StoredReading {
  return { hub: 'demo', domain: 'water', sensor: 'well-1', site: 'well-1', kind: 'piezometer', ts: T0 + i * 1000, seq: i, metrics: { groundwater_level: 10 + i / 100 }, location: { lat: 51.505, lon: -0.125 }, policy: 'default-3' };
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'steward-upstream-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The region: every message it receives, in arrival order, across restarts. */
function region() {
  const received: Array<{ topic: string; body: string; retain: boolean }> = [];
  let broker: TestBroker | undefined;
  const tap = (topic: string, payload: Buffer, retain: boolean): void => {
    if (!topic.startsWith('$')) received.push({ topic, body: payload.toString(), retain });
  };
  return {
    received,
    seqs: () => received.filter((m) => m.topic.startsWith('public/v1/demo/water/')).map((m) => (JSON.parse(m.body) as { seq: number }).seq),
    async start(port = 0, auth?: { username: string; password: string }) {
      broker = await startTestBroker(port, { tap, ...(auth ? { auth } : {}) });
      return broker.port;
    },
    async stop() {
      await broker?.close();
      broker = undefined;
    },
  };
}

function upstream(port: number, dataDir: string, extra: Partial<Parameters<typeof createUpstream>[0]> = {}): Upstream {
  const u = createUpstream({ url: `mqtt://127.0.0.1:${port}`, hub: 'demo', dataDir, reconnectMinMs: 50, reconnectMaxMs: 200, maxInflight: 5, ...extra });
  cleanups.push(() => u.stop(100));
  return u;
}

describe('upstream publisher', () => {
  it('while the region is down it buffers durably (even across a hub restart), then delivers everything, in order, nothing twice', async () => {
    const r = region();
    const port = await r.start();
    cleanups.push(() => r.stop());
    const dir = tempDir();
    const metrics = createMetrics();

    const u1 = upstream(port, dir, { metrics });
    u1.start();
    await expect.poll(() => u1.connected()).toBe(true);
    expect(u1.enqueue(Array.from({ length: 10 }, (_, i) => record(i)))).toBe(10);
    await u1.idle(5000);
    // Aedes acknowledges a QoS 1 publish before it dispatches it: wait for the region's side.
    await expect.poll(() => r.seqs()).toEqual([...Array(10).keys()]);

    // The region goes away.
    await r.stop();
    await expect.poll(() => u1.connected()).toBe(false);
    u1.enqueue(Array.from({ length: 15 }, (_, i) => record(10 + i)));
    await new Promise((res) => setTimeout(res, 300)); // a few failed reconnections
    expect(u1.stats()).toMatchObject({ buffered: 15, connected: false });
    expect((await metrics.registry.getSingleMetricAsString('steward_upstream_buffered')).trim().split('\n').pop()).toBe('steward_upstream_buffered 15');

    // The hub restarts meanwhile: the outbox is on disk.
    await u1.stop(100);
    const u2 = upstream(port, dir, { metrics });
    expect(u2.stats().buffered).toBe(15);
    u2.start();
    u2.enqueue(Array.from({ length: 5 }, (_, i) => record(25 + i)));
    await new Promise((res) => setTimeout(res, 200));
    expect(r.seqs()).toHaveLength(10);

    // The region comes back on the same port.
    await r.start(port);
    await u2.idle(10_000);
    await expect.poll(() => r.seqs()).toEqual([...Array(30).keys()]);
    expect(u2.stats()).toMatchObject({ buffered: 0, inflight: 0, connected: true });
    expect(r.received.every((m) => m.topic === 'public/v1/demo/water/well-1' && !m.retain)).toBe(true);
  });

  it('forwards critical alerts only, retained and scrubbed; refuses records that skipped the boundary', async () => {
    const r = region();
    const port = await r.start();
    cleanups.push(() => r.stop());
    const metrics = createMetrics();
    const u = upstream(port, tempDir(), { metrics });
    u.start();
    expect(u.forwardAlert({ rule: 'low-aquifer', subject: 'well-1', severity: 'warning', payload: { level: 3 } })).toBe(false);
    expect(
      u.forwardAlert({
        rule: 'low-aquifer',
        subject: 'well-1',
        severity: 'critical',
        payload: { message: 'Aquifer below its floor; call the warden on +44 20 7946 0958', household_id: 'H-0042', observer_email: 'alice@example.org', location: { lat: 51.50735, lon: -0.12776 }, value: 2.1 },
      }),
    ).toBe(true);
    const raw = { ...record(1), policy: undefined, attributes: { observer_email: 'alice@example.org' } } as unknown as StoredReading;
    expect(u.enqueue([raw, { ...record(2), hub: 'other' }, { ...record(3), attributes: { household_id: 'H-0042' } }])).toBe(0);
    expect(u.stats().refused).toBe(3);
    await u.idle(5000);
    await expect.poll(() => r.received.length).toBeGreaterThan(0);
    expect(r.received).toHaveLength(1);
    const alert = r.received[0]!;
    expect(alert.topic).toBe('public/v1/demo/alerts/low-aquifer/well-1');
    expect(alert.retain).toBe(true);
    expect(JSON.parse(alert.body)).toMatchObject({ rule: 'low-aquifer', subject: 'well-1', severity: 'critical', hub: 'demo', value: 2.1, location: { lat: 51.505, lon: -0.125 } });
    expectNoPersonalData(r.received, ['7946 0958', 'H-0042', 'alice@example.org', '51.5073', '-0.1277']);
  });

  it('uses the configured credentials, and keeps buffering while the region refuses them', async () => {
    const r = region();
    const auth = { username: 'hub-demo', password: 'region-secret-123' };
    const port = await r.start(0, auth);
    cleanups.push(() => r.stop());
    const wrong = upstream(port, tempDir(), { username: auth.username, password: 'nope' });
    wrong.start();
    wrong.enqueue([record(1)]);
    await new Promise((res) => setTimeout(res, 300));
    expect(wrong.stats()).toMatchObject({ connected: false, buffered: 1 });
    const right = upstream(port, tempDir(), { ...auth, clientId: 'steward-upstream-demo-2' });
    right.start();
    right.enqueue([record(2)]);
    await right.idle(5000);
    await expect.poll(() => r.seqs()).toEqual([2]);
  });

  it('on a cluster: a follower never connects and hands its outbox over in order (kept while the hand-over fails); the leader accepts rows and sends them', async () => {
    const r = region();
    const port = await r.start();
    cleanups.push(() => r.stop());
    const handed: OutboxRow[] = [];
    let failing = true;
    const handover = async (rows: readonly OutboxRow[]): Promise<void> => {
      if (failing) throw new Error('redis down');
      handed.push(...rows);
    };
    const follower = upstream(port, tempDir(), { handover });
    follower.start();
    follower.enqueue(Array.from({ length: 700 }, (_, i) => record(i))); // more than one batch
    // Redis is down: nothing is lost, nothing reaches the region, the follower never connected.
    await expect.poll(() => follower.stats().buffered).toBe(700);
    expect(follower.connected()).toBe(false);
    failing = false;
    await follower.idle(10_000);
    expect(follower.stats()).toMatchObject({ buffered: 0, handedOver: 700, leading: false, connected: false });
    expect(handed.map((h) => (JSON.parse(h.payload.toString()) as { seq: number }).seq)).toEqual([...Array(700).keys()]);
    expect(r.received).toEqual([]);

    // The leader takes the rows into its outbox and sends them; another hub's rows are refused.
    const leader = upstream(port, tempDir(), { handover });
    leader.start();
    leader.lead();
    expect(leader.accept([...handed, { topic: 'public/v1/other/water/x', payload: Buffer.from('{}'), qos: 1, retain: false }])).toBe(700);
    await leader.idle(20_000);
    await expect.poll(() => r.seqs().length, { timeout: 10_000 }).toBe(700);
    expect(r.seqs()).toEqual([...Array(700).keys()]);
    expect(leader.stats()).toMatchObject({ refused: 1, leading: true });

    // It loses the lease: disconnected from the region, its new rows are handed over.
    await leader.follow();
    expect(leader.connected()).toBe(false);
    leader.enqueue([record(700)]);
    await leader.idle(5000);
    expect(handed).toHaveLength(701);
  });

  it('bounds the outbox: beyond maxBuffered the oldest are dropped and counted', () => {
    const u = upstream(1, tempDir(), { maxBuffered: 5 });
    u.enqueue(Array.from({ length: 8 }, (_, i) => record(i)));
    expect(u.stats()).toMatchObject({ buffered: 5, dropped: 3 });
  });

  it('refuses bad options', () => {
    expect(() => createUpstream({ url: 'not a url', hub: 'demo' })).toThrow(expect.objectContaining({ code: 'PRIVACY_ERR_OPTIONS' }));
    expect(() => createUpstream({ url: 'mqtt://x', hub: 'Demo Hub' })).toThrow(/hub/);
  });

  it('alert payload scrubbing drops personal keys, raw payloads and prototype keys', () => {
    expect(scrubAlertPayload(JSON.parse('{"a": {"observer_name": "Bob", "note": "x@y.org", "__proto__": {"z": 1}, "payload": "raw"}, "household_power": 5}'))).toEqual({ a: {} });
  });
});
