/**
 * Bench role: the load generator. N mqtt.js clients, each a registered device with its own
 * credentials and client id `{hub}.{sensor}` (TCP_NODELAY on), publishing native JSON readings at
 * QoS 1 with `ts = Date.now()` at publish (strictly increasing per sensor, so no two readings of a
 * sensor share a millisecond and overwrite each other in InfluxDB) and `seq` counting per sensor.
 *
 *   node --import tsx bench/roles/load.ts --broker-url mqtt://127.0.0.1:PORT --credentials FILE \
 *     [--connect-concurrency 200] [--max-inflight 16]
 *
 * Connects every device first and prints `{"type":"ready","connectMs":…}`. Then each command
 * `{"cmd":"run","phase":"…","rate":R,"durationS":D}` publishes for D seconds and replies
 * `{"type":"done",…}` once every PUBACK is in:
 * - `rate > 0`: open loop. R readings/s in total, spread evenly (round-robin) over the sensors. A
 *   reading falls due whether or not the system keeps up; a sensor already waiting for
 *   `--max-inflight` PUBACKs (or the command's `maxInflight`) skips it (counted in `skipped`), as
 *   a device with a full send queue would. Achieved = acked / D.
 * - `rate = 0`: closed loop, as fast as the system takes it: `--window` readings in flight in total
 *   (spread over the sensors), each PUBACK releasing the next publish.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { dataTopic } from '../../core/topics.ts';
import { benchPayload, type BenchSensor } from '../lib/fleet.ts';
import { MsHistogram } from '../lib/histogram.ts';
import { connectNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, serve, type Command } from '../lib/role.ts';

const args = roleArgs();
const url = need(args, 'broker-url');
const creds = JSON.parse(readFileSync(need(args, 'credentials'), 'utf8')) as BenchSensor[];
const connectConcurrency = Number(args['connect-concurrency'] ?? 200);
const maxInflight = Number(args['max-inflight'] ?? 16);

interface Device {
  cred: BenchSensor;
  client: MqttClient | undefined;
  topic: string;
  seq: number;
  lastTs: number;
  inflight: number;
  /** PUBACKs in the current phase. */
  acked: number;
}

const devices: Device[] = creds.map((cred) => ({ cred, client: undefined, topic: dataTopic(cred), seq: 0, lastTs: 0, inflight: 0, acked: 0 }));
let reconnects = 0;
let closes = 0;

async function connectAll(): Promise<{ connectMs: number; perSecond: number; failed: number }> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  const progress = setInterval(() => emit({ type: 'connecting', connected: done, total: devices.length, elapsedMs: Math.round(performance.now() - t0) }), 2000);
  const worker = async (): Promise<void> => {
    while (next < devices.length) {
      const d = devices[next++]!;
      try {
        d.client = await connectNoDelay(url, { clientId: d.cred.username, username: d.cred.username, password: d.cred.password, clean: true, keepalive: 60, reconnectPeriod: 1000, connectTimeout: 120_000 }, 180_000);
        d.client.on('reconnect', () => reconnects++);
        d.client.on('close', () => closes++);
        d.client.on('error', () => undefined); // counted through close/reconnect
      } catch (err) {
        failed++;
        process.stderr.write(`connect ${d.cred.username} failed: ${(err as Error).message}\n`);
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(connectConcurrency, devices.length) }, worker));
  clearInterval(progress);
  const connectMs = performance.now() - t0;
  return { connectMs: Math.round(connectMs), perSecond: Math.round((devices.length - failed) / (connectMs / 1000)), failed };
}

let running = false;

async function run(c: Command): Promise<void> {
  if (running) throw new Error('a phase is already running');
  running = true;
  const phase = String(c.phase ?? 'phase');
  const rate = Number(c.rate ?? 0);
  const durationMs = Number(c.durationS ?? 10) * 1000;
  const window = Number(c.window ?? 2000);
  const maxInflightNow = c.maxInflight === undefined ? maxInflight : Number(c.maxInflight);
  const live = devices.filter((d) => d.client);
  const n = live.length;
  for (const d of live) d.acked = 0;
  const puback = new MsHistogram(120_000);
  let sent = 0;
  let acked = 0;
  let skipped = 0;
  let errors = 0;
  let inflight = 0;
  let tsMin = Infinity;
  let tsMax = -Infinity;
  let ended = false;
  const reconnects0 = reconnects;
  const closes0 = closes;

  const publish = (d: Device, onAck?: () => void): void => {
    const now = Date.now();
    const ts = now > d.lastTs ? now : d.lastTs + 1;
    d.lastTs = ts;
    if (ts < tsMin) tsMin = ts;
    if (ts > tsMax) tsMax = ts;
    const seq = d.seq++;
    d.inflight++;
    inflight++;
    sent++;
    d.client!.publish(d.topic, benchPayload(d.cred.domain, seq, ts), { qos: 1 }, (err) => {
      d.inflight--;
      inflight--;
      if (err) errors++;
      else {
        acked++;
        d.acked++;
        puback.record(Date.now() - ts);
      }
      if (onAck && !ended) onAck();
    });
  };

  const startedAt = Date.now();
  const t0 = performance.now();
  let issued = 0;
  let ptr = 0;
  let ticker: NodeJS.Timeout | undefined;
  if (rate > 0) {
    ticker = setInterval(() => {
      const due = Math.min(Math.floor((rate * (performance.now() - t0)) / 1000), Math.floor((rate * durationMs) / 1000));
      for (; issued < due; issued++) {
        const d = live[ptr]!;
        ptr = ptr + 1 === n ? 0 : ptr + 1;
        if (d.inflight >= maxInflightNow || !d.client!.connected) skipped++;
        else publish(d);
      }
    }, 2);
  } else {
    const per = Math.max(1, Math.ceil(window / n));
    const loop = (d: Device): void => {
      if (!ended && d.client!.connected) publish(d, () => loop(d));
    };
    for (const d of live) for (let i = 0; i < per; i++) loop(d);
  }
  const progress = setInterval(() => emit({ type: 'progress', phase, t: Date.now(), sent, acked, skipped, inflight }), 1000);
  await new Promise((r) => setTimeout(r, durationMs));
  ended = true;
  clearInterval(ticker);
  const endedAt = Date.now();
  const publishMs = performance.now() - t0;
  // Wait for the last PUBACKs (bounded: a stuck system must not hang the bench).
  const until = Date.now() + 120_000;
  while (inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  clearInterval(progress);
  running = false;
  reply(c, {
    type: 'done',
    phase,
    rate,
    startedAt,
    endedAt,
    publishMs: Math.round(publishMs),
    drainMs: Date.now() - endedAt,
    offered: rate > 0 ? issued : sent,
    sent,
    acked,
    skipped,
    errors,
    unacked: inflight,
    reconnects: reconnects - reconnects0,
    closes: closes - closes0,
    tsMin,
    tsMax,
    puback: puback.summary(),
    perSensor: live.map((d) => [d.cred.sensor, d.acked]),
  });
}

serve(
  'load',
  async (c) => {
    if (c.cmd === 'run') await run(c);
    else if (c.cmd === 'clients') reply(c, { type: 'clients', connected: devices.filter((d) => d.client?.connected).length });
    else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    await Promise.all(devices.map((d) => d.client?.endAsync(true).catch(() => undefined)));
  },
);

const r = await connectAll();
emit({ type: 'ready', pid: process.pid, devices: devices.length, ...r });
