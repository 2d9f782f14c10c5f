/**
 * The spool's disk fills up for 30 s while 20 devices publish: the node stops acknowledging
 * (devices keep their readings and resend), says so on /ready, in /metrics and in its log, and
 * resumes by itself when space returns. 0 acknowledged readings lost.
 *
 * The data dir is a real 24 MiB tmpfs, filled with a file (needs root, as CI runs); where mounting
 * is not possible the test falls back to the spool's own quota (ingest.spoolMaxBytes) with storage
 * down, which takes the same path in the intake (SQLITE_FULL), and says so in its name.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSpec, registerFleet, settle, startFleet, startNode, type FleetDevice, type NodeProcess, type NodeSpec } from '../harness/fleet.ts';
import { startInfluxDB, type InfluxHandle } from '../harness/services.ts';

function tryMount(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function ready(url: string): Promise<{ status: number; body: { reasons?: string[] } }> {
  const r = await fetch(`${url}/ready`);
  return { status: r.status, body: (await r.json()) as { reasons?: string[] } };
}

const mountPoint = mkdtempSync(join(tmpdir(), 'steward-fault-disk-'));
const mounted = tryMount(mountPoint);

describe(mounted ? 'the spool disk (a real tmpfs) full for 30 s' : 'the spool at its quota for 30 s (no tmpfs here: quota stands in for the disk)', () => {
  let influx: InfluxHandle;
  let spec: NodeSpec;
  let devices: FleetDevice[];
  let node: NodeProcess | undefined;

  beforeAll(async () => {
    influx = await startInfluxDB({ database: 'steward' });
    spec = await nodeSpec(mountPoint, influx, mounted ? {} : { ingest: { flushIntervalMs: 100, spoolMaxBytes: 262_144 } });
    devices = await registerFleet(mountPoint, 20);
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await influx?.stop();
    if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('holds acknowledgements while full, says why, resumes by itself, and loses nothing', async () => {
    node = await startNode(spec);
    const fleet = startFleet([node.mqttUrl], devices, { everyMs: 40 });
    await fleet.progress(1000);
    expect((await ready(node.opsUrl)).status).toBe(200);

    const filler = join(mountPoint, 'filler');
    if (mounted) {
      // Fill the disk to the last block (dd stops with "No space left on device").
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        // expected: ENOSPC
      }
    } else {
      await influx.pause(); // storage down: the spool fills to its quota
    }
    await node.waitFor(/intake paused/, 60_000);
    const during = await ready(node.opsUrl);
    expect(during.status).toBe(503);
    expect(during.body.reasons?.join(' ')).toMatch(mounted ? /disk_full/ : /spool_quota/);
    const metrics = await (await fetch(`${node.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`steward_intake_paused\\{reason="${mounted ? 'disk_full' : 'spool_quota'}"\\} 1`));
    // Devices are held, not refused: acknowledgements stop while the disk is full.
    const heldAt = fleet.acked();
    await new Promise((r) => setTimeout(r, 30_000));
    expect(fleet.acked() - heldAt).toBeLessThan(200); // at most what was committed as it filled
    if (mounted) rmSync(filler);
    else await influx.resume();
    await node.waitFor(/intake resumed/, 60_000);
    await fleet.progress(2000);
    expect((await ready(node.opsUrl)).status).toBe(200);
    expect(node.proc.exitCode).toBeNull(); // never exited
    const acked = await fleet.stop();
    const r = await settle(influx, acked, fleet.since);
    expect(r.lost, JSON.stringify(r.perSensor)).toBe(0);
    expect(r.duplicated).toBe(0);
  });
});
