/**
 * `kill -9` of the whole all-in-one process (`steward start`: broker, intake, forwarder, rules,
 * API) mid-stream, then a restart: every reading the devices saw acknowledged reaches InfluxDB
 * exactly once.
 */
import { describe, expect, it } from 'vitest';
import { settle, startFleet, startNode, useFaultRig } from '../harness/fleet.ts';

describe('the all-in-one process killed with kill -9', () => {
  const rig = useFaultRig('aio');

  it('loses no acknowledged reading and stores none twice', async () => {
    const node = (rig.node = await startNode(rig.spec, 'start', ['--no-sim']));
    const fleet = startFleet([node.mqttUrl], rig.devices, { everyMs: 40 });
    await fleet.progress(3000);
    node.proc.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => setTimeout(r, 3000));
    rig.node = await startNode(rig.spec, 'start', ['--no-sim']);
    await fleet.progress(2000);
    const acked = await fleet.stop();
    const r = await settle(rig.influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });
});
