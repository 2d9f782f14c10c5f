/**
 * Faults of the node itself (`steward broker`: broker, intake, spool and forwarder in one process)
 * while 20 devices publish numbered readings into a real InfluxDB 1.6: kill -9 with a backlog in
 * the spool, and a graceful restart. Losses are counted per sensor by sequence number against
 * what the devices saw acknowledged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSpec, registerFleet, settle, startFleet, startNode, type FleetDevice, type NodeProcess, type NodeSpec } from '../harness/fleet.ts';
import { startInfluxDB, type InfluxHandle } from '../harness/services.ts';

describe('node restarts lose no acknowledged reading', () => {
  let dir: string;
  let influx: InfluxHandle;
  let spec: NodeSpec;
  let devices: FleetDevice[];
  let node: NodeProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fault-node-'));
    influx = await startInfluxDB({ database: 'steward' });
    spec = await nodeSpec(dir, influx);
    devices = await registerFleet(dir, 20);
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of the node with a backlog queued in its spool: every acknowledged reading reaches InfluxDB once', async () => {
    node = await startNode(spec);
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(1000);
    // Storage goes away: the backlog builds up in the spool (acknowledged, not yet stored).
    await influx.pause();
    await fleet.progress(3000);
    node.proc.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => setTimeout(r, 2000));
    node = await startNode(spec);
    await influx.resume();
    await fleet.progress(2000);
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since);
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(5000);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });

  it('graceful restart (SIGTERM, back after 5 s): nothing lost, the node says it stopped cleanly', async () => {
    node ??= await startNode(spec);
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(2000);
    const code = await node.stop('SIGTERM');
    expect(code).toBe(0);
    expect(node.output()).toMatch(/all roles stopped/);
    await new Promise((r) => setTimeout(r, 5000));
    node = await startNode(spec);
    await fleet.progress(2000);
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });
});
