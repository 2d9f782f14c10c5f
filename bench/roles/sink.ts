/**
 * Bench role: the trivial QoS 1 subscriber of the bare relay measurement. One mqtt.js client
 * (service account, TCP_NODELAY) subscribed to every data topic at QoS 1; it only counts messages
 * (mqtt.js PUBACKs each one as soon as it is emitted) and notes publish-to-delivered latency from
 * the `ts` the load generator writes first in each payload.
 *
 *   BENCH_SINK_PASSWORD=… node --import tsx bench/roles/sink.ts --broker-url mqtt://127.0.0.1:PORT
 *
 * Prints `{"type":"ready"}` once subscribed, then `{"type":"stats","received":…}` every second.
 * Commands: `stats`, `latency` (summary since the last call, then reset).
 * @module
 */
import { ALL_DATA_FILTER } from '../../core/topics.ts';
import { MsHistogram } from '../lib/histogram.ts';
import { connectNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, serve } from '../lib/role.ts';

const args = roleArgs();
const password = process.env.BENCH_SINK_PASSWORD;
if (!password) throw new Error('BENCH_SINK_PASSWORD is not set');

const latency = new MsHistogram();
let received = 0;
const TS_PREFIX = '{"ts":';

const client = await connectNoDelay(need(args, 'broker-url'), { clientId: 'bench-sink', username: 'sink', password, clean: true, keepalive: 60, reconnectPeriod: 1000 });
client.on('message', (_topic, payload) => {
  received++;
  // Payloads of bench/lib/fleet.ts start with {"ts":<13 digits>: no JSON.parse needed.
  if (payload.length > 19 && payload.toString('latin1', 0, 6) === TS_PREFIX) latency.record(Date.now() - Number(payload.toString('latin1', 6, 19)));
});
await new Promise<void>((resolve, reject) =>
  client.subscribe(ALL_DATA_FILTER, { qos: 1 }, (err, granted) => {
    if (err) reject(err);
    else if (granted?.some((g) => g.qos === 128)) reject(new Error(`subscription to ${ALL_DATA_FILTER} refused`));
    else resolve();
  }),
);

/** The stats timer (a holder: shutdown may run before it exists). */
const timers: { stats?: NodeJS.Timeout } = {};
const stats = (): Record<string, unknown> => ({ t: Date.now(), received, connected: client.connected });
serve(
  'sink',
  (c) => {
    if (c.cmd === 'stats') reply(c, { type: 'stats', ...stats() });
    else if (c.cmd === 'latency') {
      reply(c, { type: 'latency', publishToDelivered: latency.summary() });
      latency.reset();
    } else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    clearInterval(timers.stats);
    await client.endAsync();
  },
);
emit({ type: 'ready', pid: process.pid });
timers.stats = setInterval(() => emit({ type: 'stats', ...stats() }), 1000);
