/**
 * Frozen processes while 20 devices publish into a real InfluxDB 1.6:
 * - a raw-tier reader (`steward rules` run alone) frozen with SIGSTOP for 90 s: the node keeps
 *   acknowledging and storing at full rate, the frozen reader is cut off at its deadline without
 *   harming anyone, and nothing is lost;
 * - the node itself frozen with SIGSTOP for 30 s: devices keep their unacknowledged readings and
 *   resend them; nothing is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../registry/registry.ts';
import { nodeSpec, registerFleet, settle, startFleet, startNode, type FleetDevice, type NodeProcess, type NodeSpec } from '../harness/fleet.ts';
import { startInfluxDB, type InfluxHandle } from '../harness/services.ts';
import { spawnSteward, type StewardProcess } from '../harness/steward.ts';

describe('frozen processes', () => {
  let dir: string;
  let influx: InfluxHandle;
  let spec: NodeSpec;
  let devices: FleetDevice[];
  let node: NodeProcess | undefined;
  let rules: StewardProcess | undefined;
  let rulesPassword: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fault-frozen-'));
    influx = await startInfluxDB({ database: 'steward' });
    spec = await nodeSpec(dir, influx);
    devices = await registerFleet(dir, 20);
    const registry = Registry.open(dir);
    rulesPassword = (await registry.addAccount({ name: 'rules', role: 'service' })).password;
    registry.close();
  });
  afterAll(async () => {
    if (rules) {
      rules.proc.kill('SIGCONT');
      await rules.stop('SIGKILL');
    }
    node?.proc.kill('SIGCONT');
    await node?.stop('SIGKILL');
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a raw-tier reader frozen for 90 s neither slows nor breaks the node; nothing is lost', async () => {
    node = await startNode(spec);
    rules = spawnSteward(['rules', '--config', spec.configPath], { env: { STEWARD_RULES_PASSWORD: rulesPassword, STEWARD_LOG_LEVEL: 'info' } });
    await rules.waitFor(/rules subscribed to readings/, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nnode:\n${node?.output().slice(-3000)}`);
    });
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(1000);
    const before = Date.now();
    const ackedBefore = fleet.acked();
    rules.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 90_000));
    const rate = (fleet.acked() - ackedBefore) / ((Date.now() - before) / 1000);
    rules.proc.kill('SIGCONT');
    // 20 devices x 25/s offered = 500/s; the node carried most of it while the reader was frozen.
    expect(rate).toBeGreaterThan(300);
    expect(node.proc.exitCode).toBeNull();
    expect(node.output()).not.toMatch(/Maximum call stack|RangeError/);
    await fleet.progress(1000);
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
    await rules.stop('SIGTERM');
    rules = undefined;
  });

  it('the node frozen for 30 s: devices resend what was not acknowledged; nothing is lost', async () => {
    node ??= await startNode(spec);
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(1000);
    node.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 30_000));
    node.proc.kill('SIGCONT');
    await fleet.progress(2000, 120_000);
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(node.proc.exitCode).toBeNull();
  });
});
