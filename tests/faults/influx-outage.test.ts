/**
 * InfluxDB down for 300 s while 20 devices publish: the node keeps acknowledging (the spool holds
 * the readings, within its quota), /ready says storage is unreachable, and after InfluxDB returns
 * every acknowledged reading is stored exactly once.
 */
import { describe, expect, it } from 'vitest';
import { settle, startFleet, startNode, useFaultRig } from '../harness/fleet.ts';

describe('InfluxDB down for 300 s', () => {
  const rig = useFaultRig('influx');

  it('keeps acknowledging into the spool, says storage is down, and stores everything once after', async () => {
    const node = (rig.node = await startNode(rig.spec));
    const fleet = startFleet([node.mqttUrl], rig.devices, { everyMs: 40 });
    await fleet.progress(1000);
    await rig.influx.pause();
    const t = Date.now();
    await node.waitFor(/storage unavailable; readings stay in the spool/, 30_000);
    const r1 = await fetch(`${node.opsUrl}/ready`);
    expect(r1.status).toBe(503);
    expect(JSON.stringify(await r1.json())).toMatch(/storage unreachable/);
    const during = fleet.acked();
    await new Promise((r) => setTimeout(r, 300_000 - (Date.now() - t)));
    // Devices were acknowledged throughout: the spool, not storage, is the promise.
    expect(fleet.acked() - during).toBeGreaterThan(50_000);
    await rig.influx.resume();
    await fleet.progress(1000);
    const acked = await fleet.stop();
    const r = await settle(rig.influx, acked, fleet.since, 240_000);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
    expect((await fetch(`${node.opsUrl}/ready`)).status).toBe(200);
  });
});
