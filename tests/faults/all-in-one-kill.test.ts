/**
 * `kill -9` of the whole all-in-one process (`steward start`: broker, intake, forwarder, rules,
 * API) mid-stream, then a restart: every reading the devices saw acknowledged reaches InfluxDB
 * exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSpec, registerFleet, settle, startFleet, startNode, type FleetDevice, type NodeProcess, type NodeSpec } from '../harness/fleet.ts';
import { startInfluxDB, type InfluxHandle } from '../harness/services.ts';

describe('the all-in-one process killed with kill -9', () => {
  let dir: string;
  let influx: InfluxHandle;
  let spec: NodeSpec;
  let devices: FleetDevice[];
  let node: NodeProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fault-aio-'));
    influx = await startInfluxDB({ database: 'steward' });
    spec = await nodeSpec(dir, influx);
    devices = await registerFleet(dir, 20);
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged reading and stores none twice', async () => {
    node = await startNode(spec, 'start', ['--no-sim']);
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(3000);
    node.proc.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => setTimeout(r, 3000));
    node = await startNode(spec, 'start', ['--no-sim']);
    await fleet.progress(2000);
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });
});
