/**
 * The regional upstream on a cluster: three Steward nodes (`steward broker`) on one real Redis and
 * one real InfluxDB 1.6, a real Mosquitto standing in for the regional broker. One node at a time
 * publishes the hub's records to the region (the holder of the hub's upstream lease); the others
 * hand their records over through Redis. The publishing node is killed with -9 mid-stream: another
 * takes over, and once the killed node is back (its outbox handed over) the region has every
 * acknowledged reading of every sensor, whichever node acknowledged it. Counted per sensor by
 * sequence number against what the devices saw acknowledged.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { eventually } from '../harness/devices.ts';
import { startFleet, startNode, useClusterRig, type NodeProcess } from '../harness/fleet.ts';
import { startMosquitto, type MosquittoHandle } from '../harness/services.ts';
import { writeConfig } from '../harness/steward.ts';

/** 1 if the node says it runs the hub's upstream (its /metrics), 0 if not, undefined if it does not answer. */
async function leading(n: NodeProcess): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${n.opsUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const m = /^steward_upstream_leading (\d+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

describe('the regional upstream on a cluster', () => {
  let region: MosquittoHandle;
  const rig = useClusterRig('cluster-upstream', {
    nodes: 3,
    devices: 12,
    prepare: async ({ specs }) => {
      region = await startMosquitto();
      for (const spec of specs) {
        const cfg = parse(readFileSync(spec.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
        cfg.privacy = { ...cfg.privacy, upstream: { url: region.url } };
        writeConfig(spec.dataDir, cfg);
      }
    },
  });
  let watcher: MqttClient | undefined;
  afterAll(async () => {
    await watcher?.endAsync(true);
    await region?.stop();
  });

  it('one node publishes to the region at a time; after kill -9 of that node another takes over, and the region gets every acknowledged reading', async () => {
    const { nodes, specs } = rig;
    // What the region receives, per sensor: the seq numbers of the public records.
    const seen = new Map<string, Set<number>>();
    watcher = await mqtt.connectAsync(region.url, { clientId: 'region-watcher', protocolVersion: 4, clean: false });
    watcher.on('message', (topic, payload) => {
      const sensor = topic.split('/')[4]!;
      const rec = JSON.parse(payload.toString()) as { seq: number };
      (seen.get(sensor) ?? seen.set(sensor, new Set()).get(sensor)!).add(rec.seq);
    });
    await watcher.subscribeAsync('public/v1/demo/water/+', { qos: 1 });

    const urls = nodes.map((n) => n.mqttUrl);
    const fleet = startFleet(urls, rig.devices, { everyMs: 50, failover: true });
    await fleet.progress(1500);
    // Exactly one node runs the upstream.
    let lastFlags: (number | undefined)[] = [];
    const flags = await eventually(async () => {
      const f = (lastFlags = await Promise.all(nodes.map(leading)));
      return f.filter((x) => x === 1).length === 1 && f.every((x) => x !== undefined) ? f : undefined;
    }, 30_000).catch((e: unknown) => {
      throw new Error(`not exactly one upstream holder: steward_upstream_leading per node ${JSON.stringify(lastFlags.map((x) => x ?? 'no answer'))}; ${(e as Error).message}`);
    });
    const leader = flags.indexOf(1);
    // Devices on all three nodes reach the region through that one node.
    await eventually(() => rig.devices.every((d) => (seen.get(d.sensor)?.size ?? 0) > 0), 30_000);

    nodes[leader]!.proc.kill('SIGKILL');
    await nodes[leader]!.exited;
    const t0 = Date.now();
    // Another node takes the upstream over (lease ttl 15 s by default).
    const others = nodes.filter((_, i) => i !== leader);
    await eventually(async () => (await Promise.all(others.map(leading))).filter((x) => x === 1).length === 1, 30_000);
    expect(Date.now() - t0).toBeLessThan(30_000);
    await fleet.progress(1000, 90_000);

    // The killed node comes back: it follows now, and hands over what its outbox kept.
    nodes[leader] = await startNode(specs[leader]!);
    await fleet.progress(500);
    const acked = await fleet.stop();
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(3000);
    const missing = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [sensor, n] of acked) {
        let lost = 0;
        for (let seq = 0; seq < n; seq++) if (!seen.get(sensor)?.has(seq)) lost++;
        if (lost) out[sensor] = lost;
      }
      return out;
    };
    await eventually(() => Object.keys(missing()).length === 0, 120_000, 250).catch((e: unknown) => {
      throw new Error(`not every acknowledged reading reached the region: ${(e as Error).message}; missing per sensor ${JSON.stringify(missing())}`);
    });
    expect((await Promise.all(nodes.map(leading))).filter((x) => x === 1)).toHaveLength(1);
  });
});
