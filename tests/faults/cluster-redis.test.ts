/**
 * Redis stopped for 60 s under two Steward nodes while devices publish numbered readings into a
 * real InfluxDB 1.6: the nodes keep acknowledging (the durable spool does not depend on Redis),
 * `/ready` says the cluster is degraded, nothing crashes, and when Redis returns the nodes
 * recover (ready again, a device registered on one node connects on the other). Losses are
 * counted per sensor by sequence number against what the devices saw acknowledged.
 */
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../registry/registry.ts';
import { settle, startFleet, useClusterRig } from '../harness/fleet.ts';

async function ready(opsUrl: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`${opsUrl}/ready`);
    return { status: res.status, body: await res.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Redis down for 60 s under a cluster', () => {
  const rig = useClusterRig('cluster-redis', { nodes: 2, devices: 16 });
  const { specs, nodes } = rig;

  it('keeps acknowledging with 0 loss, says degraded on /ready, and recovers when Redis returns', async () => {
    const fleet = startFleet(nodes.map((n) => n.mqttUrl), rig.devices, { everyMs: 50, failover: true });
    await fleet.progress(1000);
    for (const n of nodes) expect((await ready(n.opsUrl)).status).toBe(200);

    await rig.redis.pause();
    const downAt = Date.now();
    for (const n of nodes) await until(`${n.opsUrl}/ready says the cluster is degraded`, async () => {
      const r = await ready(n.opsUrl);
      return r.status === 503 && /cluster degraded/.test(r.body);
    }, 15_000);
    // Readings keep being acknowledged (and spooled, and stored) all through the outage.
    const before = fleet.acked();
    await fleet.progress(1000, 50_000);
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - downAt))));
    expect(fleet.acked() - before).toBeGreaterThan(3000);
    for (const n of nodes) expect(n.proc.exitCode, n.output().slice(-2000)).toBeNull();

    await rig.redis.resume();
    for (const n of nodes) await until(`${n.opsUrl}/ready is ready again`, async () => (await ready(n.opsUrl)).status === 200, 30_000);
    await fleet.progress(1000);
    const acked = await fleet.stop();
    const r = await settle(rig.influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(nodes[0]!.output()).toMatch(/cluster recovered/);

    // The shared registry works again: registered on node 1, the device connects on node 2.
    const reg = Registry.open(specs[0]!.dataDir);
    try {
      await reg.addSensor({ hub: 'demo', domain: 'water', sensor: 'after-outage', password: 'pw-after-outage-0123456789' });
    } finally {
      reg.close();
    }
    await until('the new device connects on node 2', async () => {
      try {
        const c = await mqtt.connectAsync(nodes[1]!.mqttUrl, { clientId: 'demo.after-outage', username: 'demo.after-outage', password: 'pw-after-outage-0123456789', reconnectPeriod: 0, connectTimeout: 2000 });
        await c.endAsync();
        return true;
      } catch {
        return false;
      }
    }, 5000);
  });
});
