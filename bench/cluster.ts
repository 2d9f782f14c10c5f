/**
 * The cluster benchmark: readings/s committed (acknowledged by a node, so in its spool) with 1, 2
 * and 3 `steward broker` nodes on one Redis and one InfluxDB 1.6 on this machine, and one node
 * without Redis as the baseline. Devices (mqtt.js clients, each with a window of QoS 1 publishes
 * in flight: a closed loop, as fast as the nodes acknowledge) are spread evenly over the nodes.
 *
 *   node --import tsx bench/cluster.ts --devices 60 --window 20 --duration 20
 *
 * Per configuration: readings/s acknowledged (total and per node), CPU seconds per 1,000 readings
 * of the nodes and of Redis, and Redis commands per reading (INFO: total_commands_processed,
 * used_cpu_user + used_cpu_sys). Prints a Markdown table and writes bench/results/cluster-<time>.json.
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { nodeSpec, registerFleet, startNode, type FleetDevice, type NodeProcess } from '../tests/harness/fleet.ts';
import { startInfluxDB, startRedis, stopAll } from '../tests/harness/services.ts';
import { procStats } from './lib/proc.ts';
import { benchArgs } from './lib/args.ts';

const HELP = `Usage: node --import tsx bench/cluster.ts [--devices 60] [--window 20] [--duration 20] [--warmup 5] [--nodes 0,1,2,3]\n`;

const { opt, num } = benchArgs(HELP, {
  devices: { type: 'string', default: '60' },
  window: { type: 'string', default: '20' },
  duration: { type: 'string', default: '20' },
  warmup: { type: 'string', default: '5' },
  nodes: { type: 'string', default: '0,1,2,3' },
});
const DEVICES = num('devices', opt.devices, 1);
const WINDOW = num('window', opt.window, 1);
const DURATION_S = num('duration', opt.duration, 1);
const WARMUP_S = num('warmup', opt.warmup);
/** 0 = one node without Redis (the baseline). */
const CONFIGS = opt.nodes.split(',').map((n) => num('nodes', n));

/** CPU seconds (user + system) of a running process. */
function cpuSeconds(pid: number): number {
  const s = procStats(pid);
  if (!s) throw new Error(`process ${pid} is gone`);
  return s.cpuS;
}

async function redisInfo(r: Redis): Promise<{ commands: number; cpu: number }> {
  const text = await r.info();
  const num = (k: string): number => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  return { commands: num('total_commands_processed'), cpu: num('used_cpu_user') + num('used_cpu_sys') };
}

interface Load {
  acked(): number;
  perNode(): number[];
  stop(): Promise<void>;
}

/** Each device keeps WINDOW publishes in flight on its node. */
async function startLoad(urls: string[], devices: FleetDevice[]): Promise<Load> {
  let running = true;
  let total = 0;
  const per = urls.map(() => 0);
  const clients: MqttClient[] = [];
  await Promise.all(
    devices.map(async (d, i) => {
      const node = i % urls.length;
      const username = `demo.${d.sensor}`;
      const c = await mqtt.connectAsync(urls[node]!, { clientId: username, username, password: d.password, protocolVersion: 4, clean: true, reconnectPeriod: 1000 });
      (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
      clients.push(c);
      const topic = `csm/v1/demo/water/${d.sensor}/data`;
      let seq = 0;
      const one = (): void => {
        if (!running) return;
        const payload = JSON.stringify({ ts: Date.now(), seq: seq++, metrics: { groundwater_level: 40 + (seq % 100) / 100 } });
        c.publish(topic, payload, { qos: 1 }, (err) => {
          if (!err) {
            total++;
            per[node]!++;
          }
          one();
        });
      };
      for (let k = 0; k < WINDOW; k++) one();
    }),
  );
  return {
    acked: () => total,
    perNode: () => [...per],
    async stop() {
      running = false;
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}

interface Row {
  nodes: number;
  redis: boolean;
  readingsPerS: number;
  perNode: number[];
  nodeCpuPer1k: number;
  redisCpuPer1k: number;
  redisCommandsPerReading: number;
  nodeCpuUtil: number;
  redisCpuUtil: number;
}

async function run(n: number): Promise<Row> {
  const clustered = n > 0;
  const count = Math.max(1, n);
  const root = mkdtempSync(join(tmpdir(), 'steward-bench-cluster-'));
  const influx = await startInfluxDB({ database: 'steward' });
  const redis = clustered ? await startRedis() : undefined;
  const nodes: NodeProcess[] = [];
  try {
    const specs = [];
    for (let i = 1; i <= count; i++) {
      const dir = join(root, `node-${i}`);
      mkdirSync(dir);
      specs.push(await nodeSpec(dir, influx, clustered ? { cluster: { redis: redis!.url, nodeId: `node-${i}` } } : {}));
    }
    const devices = await registerFleet(specs[0]!.dataDir, DEVICES);
    // Unclustered nodes would each need the fleet in their own registry; the baseline has one node.
    for (const s of specs) nodes.push(await startNode(s));
    const load = await startLoad(
      nodes.map((x) => x.mqttUrl),
      devices,
    );
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    const r = redis ? new Redis(redis.url) : undefined;
    const a0 = load.acked();
    const p0 = load.perNode();
    const c0 = nodes.map((x) => cpuSeconds(x.proc.pid!));
    const i0 = r ? await redisInfo(r) : undefined;
    const t0 = performance.now();
    await new Promise((res) => setTimeout(res, DURATION_S * 1000));
    const dt = (performance.now() - t0) / 1000;
    const a1 = load.acked();
    const p1 = load.perNode();
    const c1 = nodes.map((x) => cpuSeconds(x.proc.pid!));
    const i1 = r ? await redisInfo(r) : undefined;
    await load.stop();
    r?.disconnect();
    const readings = a1 - a0;
    const nodeCpu = c1.reduce((s, v, i) => s + v - c0[i]!, 0);
    const redisCpu = i0 && i1 ? i1.cpu - i0.cpu : 0;
    return {
      nodes: count,
      redis: clustered,
      readingsPerS: Math.round(readings / dt),
      perNode: p1.map((v, i) => Math.round((v - p0[i]!) / dt)),
      nodeCpuPer1k: +((nodeCpu / readings) * 1000).toFixed(3),
      redisCpuPer1k: +((redisCpu / readings) * 1000).toFixed(3),
      redisCommandsPerReading: i0 && i1 ? +((i1.commands - i0.commands) / readings).toFixed(2) : 0,
      nodeCpuUtil: +(nodeCpu / dt).toFixed(2),
      redisCpuUtil: +(redisCpu / dt).toFixed(2),
    };
  } finally {
    await Promise.all(nodes.map((x) => x.stop('SIGTERM', 10_000)));
    await redis?.stop();
    await influx.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
const before = loadavg();
for (const n of CONFIGS) {
  process.stderr.write(`running ${n === 0 ? '1 node without Redis' : `${n} node(s) on Redis`}…\n`);
  rows.push(await run(n));
}
await stopAll();
const table = [
  `${cpus().length} cores, load average before ${before.map((v) => v.toFixed(1)).join(' ')}, after ${loadavg().map((v) => v.toFixed(1)).join(' ')}; ${DEVICES} devices × ${WINDOW} in flight, ${DURATION_S} s after ${WARMUP_S} s warm-up`,
  '',
  '| nodes | Redis | readings/s committed | per node | node CPU s / 1k readings | Redis CPU s / 1k readings | Redis commands / reading | CPU cores busy: nodes, Redis |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.nodes} | ${r.redis ? 'yes' : 'no'} | ${r.readingsPerS} | ${r.perNode.join(' / ')} | ${r.nodeCpuPer1k} | ${r.redis ? r.redisCpuPer1k : '–'} | ${r.redis ? r.redisCommandsPerReading : '–'} | ${r.nodeCpuUtil}, ${r.redis ? r.redisCpuUtil : '–'} |`),
].join('\n');
console.log(table);
const out = new URL('./results/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ devices: DEVICES, window: WINDOW, durationS: DURATION_S, rows }, null, 2));
