/**
 * Three Steward nodes (`steward broker`) on one real Redis and one real InfluxDB 1.6, devices
 * spread over them, each device knowing every node's URL: the registry is shared (a device
 * registered on node 1 connects on node 3 at once, a removed one is refused everywhere), and a
 * node killed with -9 mid-stream loses no acknowledged reading: its devices move to the other
 * nodes, and its spool drains into storage when it comes back. Losses are counted per sensor by
 * sequence number against what the devices saw acknowledged.
 */
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../registry/registry.ts';
import { settle, startFleet, startNode, useClusterRig } from '../harness/fleet.ts';

/** Tries to connect until it succeeds or `ms` pass; resolves to the ms it took, or rejects with the last error. */
async function connectWithin(url: string, username: string, password: string, ms: number): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < ms) {
    try {
      const c = await mqtt.connectAsync(url, { clientId: username, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000 });
      await c.endAsync();
      return Date.now() - t0;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`could not connect to ${url} as ${username} within ${ms} ms: ${String(last)}`);
}

async function refused(url: string, username: string, password: string): Promise<boolean> {
  try {
    const c = await mqtt.connectAsync(url, { clientId: username, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000 });
    await c.endAsync();
    return false;
  } catch (e) {
    return /Not authorized|Bad username or password/i.test(String(e));
  }
}

describe('three nodes on one Redis', () => {
  // The fleet is registered on node 1 only; nodes 2 and 3 learn it through Redis.
  const rig = useClusterRig('cluster', { nodes: 3, devices: 24 });
  const { specs, nodes } = rig;

  it('a device registered on node 1 connects on node 3 at once; removed on node 1, it is refused on every node', async () => {
    const reg = Registry.open(specs[0]!.dataDir);
    let password: string;
    try {
      // A generated secret (a keyed hash, not scrypt): node 3 verifies it with the cluster's key.
      const added = await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'late-1' });
      expect(added.generated).toBe(true);
      password = added.password;
      // Propagation is a 200 ms poll and a Redis message; each refused attempt costs a scrypt on a busy machine.
      const took = await connectWithin(nodes[2]!.mqttUrl, 'demo.late-1', password, 10_000);
      expect(took).toBeLessThan(5000);
      reg.removeSensor('demo', 'late-1');
    } finally {
      reg.close();
    }
    const until = Date.now() + 5000;
    let everywhere = false;
    while (!everywhere && Date.now() < until) {
      everywhere = (await Promise.all(nodes.map((n) => refused(n.mqttUrl, 'demo.late-1', password)))).every(Boolean);
      if (!everywhere) await new Promise((r) => setTimeout(r, 100));
    }
    expect(everywhere).toBe(true);
  });

  it('kill -9 of one node mid-stream: its devices move to the others, and every acknowledged reading reaches InfluxDB once (its spool drains when it restarts)', async () => {
    const urls = nodes.map((n) => n.mqttUrl);
    const fleet = startFleet(urls, rig.devices, { everyMs: 50, failover: true });
    await fleet.progress(1500);
    // Storage away: node 2's acknowledged readings wait in its spool when it is killed.
    await rig.influx.pause();
    await fleet.progress(1500);
    nodes[1]!.proc.kill('SIGKILL');
    await nodes[1]!.exited;
    // Its devices carry on through nodes 1 and 3.
    await fleet.progress(1500, 90_000);
    const where = fleet.where();
    expect([...where.values()].filter((u) => u === urls[1]).length).toBe(0);
    expect(where.size).toBe(rig.devices.length);
    await rig.influx.resume();
    nodes[1] = await startNode(specs[1]!);
    await fleet.progress(1000);
    const acked = await fleet.stop();
    const r = await settle(rig.influx, acked, fleet.since);
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(5000);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });
});
