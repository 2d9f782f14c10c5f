/**
 * Bench role of the rules benchmark: the probe. Two mqtt.js clients in one process, so the
 * publish-to-alert latency is measured on one clock:
 *
 * - a registered battery device publishing native JSON readings at QoS 1 that alternate
 *   `battery_soc` 9 % (fires the probe's threshold rule) and 30 % (resolves it);
 * - a hub member (an account of role `hub`) subscribed at QoS 1 to `csm/v1/{hub}/alerts/#`.
 *
 * Latency of a probe = arrival of its `firing` (or `resolved`) alert at the member minus the
 * moment just before the device's `publish` call (`performance.timeOrigin + performance.now()`).
 * The alert is matched to its reading by `firedAt` / `resolvedAt`, which are the reading's sensor
 * timestamp (unique per probe).
 *
 * By default both clients are plain `mqtt.connectAsync` clients, as a real device and a real hub
 * member would be: mqtt.js 5.16 leaves Nagle's algorithm on (it never calls `setNoDelay`).
 * `--nodelay true` builds their sockets with TCP_NODELAY (bench/lib/mqtt.ts).
 *
 *   BENCH_PROBE_DEVICE_PASSWORD=… BENCH_PROBE_MEMBER_PASSWORD=… node --import tsx \
 *     bench/roles/rules-probe.ts --broker-url mqtt://127.0.0.1:PORT --hub demo --domain energy \
 *     --sensor probe-battery --rule probe-battery-low --member members [--nodelay false]
 *
 * Prints `{"type":"ready"}` once both are connected and subscribed. Command
 * `{"cmd":"run","phase":"…","durationS":30,"hz":5}` publishes for the duration and replies
 * `{"type":"done","samples":[…]}` once every alert is in (or 5 s after the last publish).
 * @module
 */
import mqtt, { type MqttClient } from 'mqtt';
import { alertTopic, dataTopic } from '../../core/topics.ts';
import type { Domain } from '../../core/ids.ts';
import { connectNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, serve, type Command } from '../lib/role.ts';

const args = roleArgs();
const url = need(args, 'broker-url');
const hub = need(args, 'hub');
const domain = need(args, 'domain') as Domain;
const sensor = need(args, 'sensor');
const rule = need(args, 'rule');
const member = need(args, 'member');
const noDelay = args.nodelay === 'true';
const devicePassword = process.env.BENCH_PROBE_DEVICE_PASSWORD;
const memberPassword = process.env.BENCH_PROBE_MEMBER_PASSWORD;
if (!devicePassword || !memberPassword) throw new Error('BENCH_PROBE_DEVICE_PASSWORD and BENCH_PROBE_MEMBER_PASSWORD must be set');

const wall = (): number => performance.timeOrigin + performance.now();
const topic = dataTopic({ hub, domain, sensor });
const myAlertTopic = alertTopic(hub, rule, sensor);
const LOW = 9;
const HIGH = 30;

function connect(clientId: string, username: string, password: string): Promise<MqttClient> {
  const o = { clientId, username, password, clean: true, keepalive: 60, reconnectPeriod: 1000, protocolVersion: 4 as const };
  return noDelay ? connectNoDelay(url, o, 30_000) : mqtt.connectAsync(url, o);
}

const device = await connect(`${hub}.${sensor}`, `${hub}.${sensor}`, devicePassword);
const subscriber = await connect(`bench-${member}`, member, memberPassword);

/** Arrivals of the probe's alerts: `${key}|${event}` -> time. */
const arrivals = new Map<string, number>();
/** Other alert topics heard (should stay empty: the background load fires nothing). */
const others = new Map<string, number>();
let waiting: (() => void) | undefined;
subscriber.on('message', (t, payload) => {
  const at = wall();
  if (payload.length === 0) return; // the retained state being cleared after a resolve
  if (t !== myAlertTopic) {
    others.set(t, (others.get(t) ?? 0) + 1);
    return;
  }
  const a = JSON.parse(payload.toString('utf8')) as { event: string; firedAt: string | null; resolvedAt: string | null };
  const iso = a.event === 'resolved' ? a.resolvedAt : a.firedAt;
  if (iso && (a.event === 'firing' || a.event === 'resolved')) arrivals.set(`${Date.parse(iso)}|${a.event}`, at);
  waiting?.();
});
await subscriber.subscribeAsync(`csm/v1/${hub}/alerts/#`, { qos: 1 });

let seq = 0;
let lastTs = 0;
/** Publishes one reading; resolves with its sensor timestamp and the time just before publishing. */
function publish(value: number, pubacks: number[]): { ts: number; sentAt: number } {
  const now = Date.now();
  const ts = now > lastTs ? now : lastTs + 1;
  lastTs = ts;
  const sentAt = wall();
  device.publish(topic, `{"ts":${ts},"seq":${seq++},"metrics":{"battery_soc":${value}}}`, { qos: 1 }, (err) => {
    if (!err) pubacks.push(wall() - sentAt);
  });
  return { ts, sentAt };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One probe reading and the alert event it should cause (the bench reads these from the probe's answer). */
export interface Sample {
  ts: number;
  value: number;
  event: 'firing' | 'resolved';
  sentAt: number;
  arrivedAt: number | null;
  latencyMs: number | null;
}

async function run(c: Command): Promise<void> {
  const durationS = Number(c.durationS ?? 30);
  const hz = Number(c.hz ?? 5);
  const pubacks: number[] = [];
  // Start from a known state: resolved (a 30 % reading), then alternate 9, 30, … ending on 30.
  publish(HIGH, []);
  await sleep(1000);
  others.clear();
  const n = Math.max(2, 2 * Math.round((durationS * hz) / 2));
  const sent: Array<{ ts: number; value: number; sentAt: number }> = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / hz;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const value = i % 2 === 0 ? LOW : HIGH;
    sent.push({ value, ...publish(value, pubacks) });
  }
  const key = (s: { ts: number; value: number }): string => `${s.ts}|${s.value === LOW ? 'firing' : 'resolved'}`;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !sent.every((s) => arrivals.has(key(s)))) {
    await new Promise<void>((r) => {
      waiting = r;
      setTimeout(r, 100);
    });
  }
  waiting = undefined;
  const samples: Sample[] = sent.map((s) => {
    const arrivedAt = arrivals.get(key(s)) ?? null;
    return { ts: s.ts, value: s.value, event: s.value === LOW ? 'firing' : 'resolved', sentAt: s.sentAt, arrivedAt, latencyMs: arrivedAt === null ? null : arrivedAt - s.sentAt };
  });
  arrivals.clear();
  reply(c, { type: 'done', phase: c.phase, samples, pubacks, otherAlerts: Object.fromEntries(others) });
}

serve(
  'rules-probe',
  async (c) => {
    if (c.cmd === 'run') await run(c);
    else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    await Promise.all([device.endAsync(), subscriber.endAsync()]);
  },
);
emit({ type: 'ready', pid: process.pid, noDelay });
