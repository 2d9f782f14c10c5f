/**
 * Faults of the node itself (`steward broker`: broker, intake, spool and forwarder in one process)
 * while 20 devices publish numbered readings into a real InfluxDB 1.6: kill -9 with a backlog in
 * the spool, and a graceful restart. Losses are counted per sensor by sequence number against
 * what the devices saw acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { settle, startFleet, startNode, useFaultRig } from '../harness/fleet.ts';

describe('node restarts lose no acknowledged reading', () => {
  const rig = useFaultRig('node');

  it('kill -9 of the node with a backlog queued in its spool: every acknowledged reading reaches InfluxDB once', async () => {
    const node = (rig.node = await startNode(rig.spec));
    const fleet = startFleet([node.mqttUrl], rig.devices, { everyMs: 40 });
    await fleet.progress(1000);
    // Storage goes away: the backlog builds up in the spool (acknowledged, not yet stored).
    await rig.influx.pause();
    await fleet.progress(3000);
    node.proc.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => setTimeout(r, 2000));
    rig.node = await startNode(rig.spec);
    await rig.influx.resume();
    await fleet.progress(2000);
    const acked = await fleet.stop();
    const r = await settle(rig.influx, acked, fleet.since);
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(5000);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });

  it('graceful restart (SIGTERM, back after 5 s): nothing lost, the node says it stopped cleanly', async () => {
    const node = (rig.node ??= await startNode(rig.spec));
    const fleet = startFleet([node.mqttUrl], rig.devices, { everyMs: 40 });
    await fleet.progress(2000);
    const code = await node.stop('SIGTERM');
    expect(code).toBe(0);
    expect(node.output()).toMatch(/all roles stopped/);
    await new Promise((r) => setTimeout(r, 5000));
    rig.node = await startNode(rig.spec);
    await fleet.progress(2000);
    const acked = await fleet.stop();
    const r = await settle(rig.influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });
});
