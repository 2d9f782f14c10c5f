/**
 * Bench role of the reconnect-storm benchmark: one share of the fleet, every device its own
 * mqtt.js client (registered credentials, client id `{hub}.{sensor}`, clean session, keepalive
 * 60 s), all created at once, as devices do when their hub comes back. mqtt.js reconnects by
 * itself (`reconnectPeriod`, default 1 s) and gives up a CONNECT after `connectTimeout` (mqtt.js
 * default 30 s) and tries again, as a device would.
 *
 *   node --import tsx bench/roles/storm.ts --broker-url mqtt://127.0.0.1:PORT --credentials FILE \
 *     [--connect-timeout-ms 30000] [--reconnect-ms 1000]
 *
 * Starts the clients at once, then prints `{"type":"stats","connected":…,"total":…}` every 500 ms
 * (`connected`: clients past CONNACK; `connacks`: CONNACKs received since start; `closes`,
 * `errors`: connections lost or refused). Commands: `stats`, `publish` (`{"rate":R,"durationS":D}`:
 * each connected device publishes its share of R readings/s at QoS 0 for D s, to show the
 * connected fleet is alive; replies with the count sent).
 * @module
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { dataTopic } from '../../core/topics.ts';
import { benchPayload, type BenchSensor } from '../lib/fleet.ts';
import { emit, need, reply, roleArgs, serve } from '../lib/role.ts';

const args = roleArgs();
const url = need(args, 'broker-url');
const creds = JSON.parse(readFileSync(need(args, 'credentials'), 'utf8')) as BenchSensor[];
const connectTimeout = Number(args['connect-timeout-ms'] ?? 30_000);
const reconnectPeriod = Number(args['reconnect-ms'] ?? 1000);

let connected = 0;
let connacks = 0;
let closes = 0;
let errors = 0;
const lastError = new Map<string, number>();
const clients: MqttClient[] = creds.map((c) => {
  const client = mqtt.connect(url, { clientId: c.username, username: c.username, password: c.password, clean: true, keepalive: 60, protocolVersion: 4, connectTimeout, reconnectPeriod });
  let up = false;
  client.on('connect', () => {
    connacks++;
    if (!up) connected++;
    up = true;
  });
  client.on('close', () => {
    closes++;
    if (up) connected--;
    up = false;
  });
  client.on('error', (err) => {
    errors++;
    const key = (err as { code?: string | number }).code !== undefined ? String((err as { code?: string | number }).code) : err.message.slice(0, 60);
    lastError.set(key, (lastError.get(key) ?? 0) + 1);
  });
  return client;
});

const stats = (): Record<string, unknown> => ({ t: Date.now(), connected, total: clients.length, connacks, closes, errors, errorKinds: Object.fromEntries(lastError) });
const timer = setInterval(() => emit({ type: 'stats', ...stats() }), 500);

async function publish(rate: number, durationS: number): Promise<number> {
  const live = clients.map((c, i) => ({ c, topic: dataTopic(creds[i]!), domain: creds[i]!.domain, seq: 0 })).filter((d) => d.c.connected);
  if (!live.length || rate <= 0) return 0;
  let sent = 0;
  let ptr = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - t0;
      const due = Math.floor((rate * Math.min(elapsed, durationS * 1000)) / 1000);
      for (; sent < due; sent++) {
        const d = live[ptr]!;
        ptr = (ptr + 1) % live.length;
        d.c.publish(d.topic, benchPayload(d.domain, d.seq++, Date.now()), { qos: 0 });
      }
      if (elapsed >= durationS * 1000) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  return sent;
}

serve(
  'storm',
  async (c) => {
    if (c.cmd === 'stats') reply(c, { type: 'stats', ...stats() });
    else if (c.cmd === 'publish') reply(c, { type: 'published', sent: await publish(Number(c.rate ?? 0), Number(c.durationS ?? 10)) });
    else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    clearInterval(timer);
    await Promise.all(clients.map((cl) => cl.endAsync(true).catch(() => undefined)));
  },
);
emit({ type: 'ready', pid: process.pid, total: clients.length });
