/**
 * Runs the Eclipse Paho MQTT 3.1.1 interoperability suite (interoperability/client_test.py of
 * github.com/eclipse/paho.mqtt.testing, not part of this repository) against Steward's broker.
 *
 *   node --import tsx scripts/paho-interop.ts --suite /path/to/paho.mqtt.testing/interoperability [Test.test_name …]
 *
 * The suite knows nothing of credentials or of Steward's topic scheme (it uses `TopicA`, `/TopicA`…),
 * so this harness gives it what a hub would give a trusted client, and nothing more:
 * - one account, `paho`, whose ACL is every topic (`#`) except `$`-topics, which nobody may publish
 *   to and `#` never matches [MQTT-4.7.2-1];
 * - a small TCP proxy in front of the broker that adds that account's username and password to each
 *   well-formed CONNECT (a malformed one, such as the suite's wrong protocol name, reaches the broker
 *   as sent), renames the suite's "no subscribe" filter `test/nosubscribe` to `$nosubscribe/x`, which
 *   that ACL refuses (Mosquitto's CI denies it with an ACL file instead), and passes every other
 *   packet through unchanged.
 * The suite is run with host and port set for it (it reads them from options that its unittest
 * runner would also try to parse, so a two-line Python wrapper passes them instead).
 * Everything else is the production broker: Aedes with Steward's authentication, byte guard, limits.
 * Without --suite it only starts broker and proxy and prints the port, for running the suite by hand.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { createBroker } from '../broker/broker.ts';
import { parseConfig } from '../core/config.ts';
import { Registry } from '../registry/registry.ts';
import { createLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { suite: { type: 'string' }, port: { type: 'string', default: '0' }, 'log-level': { type: 'string', default: 'warn' } } });
const ACCOUNT = { username: 'paho', password: '' };
/** The filter the suite expects a broker to refuse (its -n option is not wired in its current version). */
const SUITE_NO_SUBSCRIBE = 'test/nosubscribe';
/** What the proxy sends instead: outside the account's ACL, since `#` does not match `$`-filters. */
const NO_SUBSCRIBE = '$nosubscribe/x';

const dir = mkdtempSync(join(tmpdir(), 'steward-paho-'));
const registry = Registry.open(dir);
// A generated password (keyed hash): the suite allows half a second for a CONNACK.
ACCOUNT.password = (await registry.addAccount({ name: ACCOUNT.username, role: 'service' })).password;
const config = parseConfig({ dataDir: dir, mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 } });
const broker = createBroker({
  config: config.mqtt,
  registry,
  logger: createLogger(args['log-level']),
  metrics: createMetrics(),
  aclFor: () => ({ publish: ['#'], subscribe: ['#'], subscribeAll: false }),
});
const ports = await broker.start();

/** Length of the first MQTT packet in `buf` (fixed header + remaining length), or undefined if incomplete. */
function firstPacketLength(buf: Buffer): number | undefined {
  let len = 0;
  for (let i = 1, mul = 1; i < Math.min(buf.length, 5); i++, mul *= 128) {
    const b = buf[i] as number;
    len += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return buf.length >= 1 + i + len ? 1 + i + len : undefined;
  }
  return undefined;
}

/**
 * The CONNECT with the harness account's username and password appended (flags 0xC0 set, the rest
 * byte for byte as sent), or the bytes unchanged when they are not an MQTT 3.1.1 CONNECT without
 * credentials. Done on bytes: mqtt-packet would refuse to re-encode some CONNECTs the suite sends
 * on purpose (an empty client id with clean session off).
 */
function withCredentials(bytes: Buffer): Buffer {
  if (bytes[0] !== 0x10) return bytes;
  let i = 1;
  while (((bytes[i] as number) & 0x80) !== 0) i++;
  const body = bytes.subarray(i + 1);
  const flagsAt = 2 + 4 + 1; // protocol name "MQTT" with its length, protocol level
  if (body.length < flagsAt + 3 || body.subarray(0, 6).toString('latin1') !== '\u0000\u0004MQTT' || ((body[flagsAt] as number) & 0xc0) !== 0) return bytes;
  const field = (s: string): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s, 'utf8')]);
  const out = Buffer.concat([body, field(ACCOUNT.username), field(ACCOUNT.password)]);
  out[flagsAt] = (out[flagsAt] as number) | 0xc0;
  const len: number[] = [];
  for (let n = out.length; ; ) {
    const b = n % 128;
    n = Math.floor(n / 128);
    len.push(n > 0 ? b | 0x80 : b);
    if (n === 0) break;
  }
  return Buffer.concat([Buffer.from([0x10, ...len]), out]);
}

/** A SUBSCRIBE with the suite's "no subscribe" filter renamed to one the ACL refuses; other packets unchanged. */
function mapSubscribe(bytes: Buffer): Buffer {
  let packet: Packet | undefined;
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: Packet) => (packet ??= p));
  parser.on('error', () => undefined);
  parser.parse(bytes);
  if (packet?.cmd !== 'subscribe' || !packet.subscriptions.some((s) => s.topic === SUITE_NO_SUBSCRIBE)) return bytes;
  return mqttPacket.generate({ ...packet, subscriptions: packet.subscriptions.map((s) => (s.topic === SUITE_NO_SUBSCRIBE ? { ...s, topic: NO_SUBSCRIBE } : s)) });
}

const proxy = createServer((client: Socket) => {
  const upstream = connect({ host: '127.0.0.1', port: ports.mqtt });
  let pending = Buffer.alloc(0);
  let first = true;
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
  upstream.on('data', (b: Buffer) => client.write(b));
  client.on('data', (b: Buffer) => {
    pending = Buffer.concat([pending, b]);
    for (let n = firstPacketLength(pending); n !== undefined; n = firstPacketLength(pending)) {
      const packet = pending.subarray(0, n);
      pending = pending.subarray(n);
      upstream.write(first ? withCredentials(packet) : (packet[0] as number) >> 4 === 8 ? mapSubscribe(packet) : packet);
      first = false;
    }
  });
});
await new Promise<void>((resolve) => proxy.listen(Number(args.port), '127.0.0.1', resolve));
const port = (proxy.address() as AddressInfo).port;

async function shutdown(code: number): Promise<never> {
  proxy.close();
  await broker.stop();
  registry.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

const PY = [
  'import runpy, sys, unittest',
  'port, tests, main = sys.argv[1], sys.argv[2:], unittest.main',
  'unittest.main = lambda *a, **k: main(*a, **{**k, "argv": ["client_test.py", *tests]})',
  'sys.argv = ["client_test.py", "--hostname=127.0.0.1", "--port=" + port]',
  'runpy.run_path("client_test.py", run_name="__main__")',
].join('\n');
if (!args.suite) {
  process.stdout.write(`Steward broker for the Paho suite: 127.0.0.1:${port} (Ctrl-C stops it)\n`);
} else {
  const child = spawn('python3', ['-c', PY, String(port), ...positionals], { cwd: args.suite, stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  await shutdown(code);
}
