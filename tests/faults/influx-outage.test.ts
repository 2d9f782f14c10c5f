/**
 * InfluxDB down for 300 s while 20 devices publish: the node keeps acknowledging (the spool holds
 * the readings, within its quota), /ready says storage is unreachable, and after InfluxDB returns
 * every acknowledged reading is stored exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSpec, registerFleet, settle, startFleet, startNode, type FleetDevice, type NodeProcess, type NodeSpec } from '../harness/fleet.ts';
import { startInfluxDB, type InfluxHandle } from '../harness/services.ts';

describe('InfluxDB down for 300 s', () => {
  let dir: string;
  let influx: InfluxHandle;
  let spec: NodeSpec;
  let devices: FleetDevice[];
  let node: NodeProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fault-influx-'));
    influx = await startInfluxDB({ database: 'steward' });
    spec = await nodeSpec(dir, influx);
    devices = await registerFleet(dir, 20);
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps acknowledging into the spool, says storage is down, and stores everything once after', async () => {
    node = await startNode(spec);
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(1000);
    await influx.pause();
    const t = Date.now();
    await node.waitFor(/storage unavailable; readings stay in the spool/, 30_000);
    const r1 = await fetch(`${node.opsUrl}/ready`);
    expect(r1.status).toBe(503);
    expect(JSON.stringify(await r1.json())).toMatch(/storage unreachable/);
    const during = fleet.acked();
    await new Promise((r) => setTimeout(r, 300_000 - (Date.now() - t)));
    // Devices were acknowledged throughout: the spool, not storage, is the promise.
    expect(fleet.acked() - during).toBeGreaterThan(50_000);
    await influx.resume();
    await fleet.progress(1000);
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since, 240_000);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
    expect((await fetch(`${node.opsUrl}/ready`)).status).toBe(200);
  });
});
