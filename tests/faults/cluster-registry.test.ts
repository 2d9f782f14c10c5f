/**
 * The registry mirror between two nodes' files through a real Redis: every table a node
 * authenticates or looks devices up with travels, removals included — devices, API tokens, and the
 * DevEUI links the connectors find a device by.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRY_KEY, startRegistryMirror, type RegistryMirror } from '../../registry/cluster.ts';
import { Registry } from '../../registry/registry.ts';
import { createLogger } from '../../telemetry/log.ts';
import { startRedis, type RedisHandle } from '../harness/services.ts';

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('registry mirror through Redis', () => {
  let root: string;
  let redis: RedisHandle;
  const conns: Redis[] = [];
  const mirrors: RegistryMirror[] = [];
  let a: Registry;
  let b: Registry;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'steward-cluster-registry-'));
    redis = await startRedis();
    const logger = createLogger('silent');
    for (const n of ['a', 'b']) {
      const [r, sub] = [new Redis(redis.url), new Redis(redis.url)];
      conns.push(r, sub);
      const m = startRegistryMirror({ dataDir: join(root, n), redis: r, subscriber: sub, logger, pollMs: 50 });
      await m.ready;
      mirrors.push(m);
    }
    a = Registry.open(join(root, 'a'));
    b = Registry.open(join(root, 'b'));
  });
  afterAll(async () => {
    a?.close();
    b?.close();
    for (const m of mirrors) await m.stop();
    for (const c of conns) c.disconnect();
    await redis?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a DevEUI linked on one node finds the device on the other, and its removal does too', async () => {
    await a.addSensor({ hub: 'demo', domain: 'soil', sensor: 'probe-1', password: 'pw-probe-1-0123456789' });
    a.setSensorEui('demo', 'probe-1', '70B3D57ED0000001');
    await until('node b finds the device by its DevEUI', () => b.sensorByEui('70b3d57ed0000001')?.sensor === 'probe-1');
    expect(b.euiOf('demo', 'probe-1')).toBe('70b3d57ed0000001');
    a.removeSensor('demo', 'probe-1');
    await until('node b no longer finds it', () => b.sensorByEui('70b3d57ed0000001') === undefined && b.euiOf('demo', 'probe-1') === undefined);
  });

  it("a removal is not undone by the node's own announcement of the row arriving late", async () => {
    await a.addSensor({ hub: 'demo', domain: 'soil', sensor: 'probe-2', password: 'pw-probe-2-0123456789' });
    await until('node b has the device', () => b.getSensor('demo', 'probe-2') !== undefined);
    // Under load a node's subscriber can hand it its own announcement after the device is gone
    // again: simulated by announcing the row once more right after the removal.
    a.removeSensor('demo', 'probe-2');
    await conns[0]!.publish(REGISTRY_KEY, 'sensors|demo|probe-2');
    await until('both nodes no longer have it', () => a.getSensor('demo', 'probe-2') === undefined && b.getSensor('demo', 'probe-2') === undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.getSensor('demo', 'probe-2')).toBeUndefined();
    expect(b.getSensor('demo', 'probe-2')).toBeUndefined();
  });

  it('an API token made on one node is accepted on the other, and refused there once revoked', async () => {
    const { token } = a.addToken({ name: 'nora', role: 'steward', hubs: ['demo'] });
    await until('node b accepts the token', () => b.findToken(token)?.name === 'nora');
    expect(b.findToken(token)).toMatchObject({ role: 'steward', hubs: ['demo'], expired: false });
    a.revokeToken('nora');
    await until('node b refuses the token', () => b.findToken(token) === undefined);
  });
});
