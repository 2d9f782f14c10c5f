/**
 * Helpers for the egress tests (and the cross-folder ones in tests/): an in-process MQTT broker
 * standing in for the hub's broker or the regional one. Policies, keyrings and readings for tests:
 * privacy/testing.ts.
 */
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { Aedes } from 'aedes';

/** An in-process Aedes broker on a TCP port (no auth): a stand-in hub broker or regional broker. */
export interface TestBroker {
  port: number;
  aedes: Aedes;
  /** Publishes in-process, resolving once Aedes has taken it. */
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts Aedes on `port` (0 = any free port). `tap` sees every message published on it from the
 * start (subscribed before the port opens); `auth` makes it require those credentials.
 */
export async function startTestBroker(port = 0, opts: { tap?: (topic: string, payload: Buffer, retain: boolean) => void; auth?: { username: string; password: string } } = {}): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  if (opts.auth) {
    const { username, password } = opts.auth;
    aedes.authenticate = (_client, u, p, done) => {
      const ok = u === username && p?.toString() === password;
      done(ok ? null : Object.assign(new Error('bad credentials'), { returnCode: 4 }), ok);
    };
  }
  const tap = opts.tap;
  if (tap) await new Promise<void>((r) => aedes.subscribe('#', (packet, cb) => (tap(packet.topic, Buffer.from(packet.payload), packet.retain), cb()), r));
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    aedes,
    publish: (topic, payload, opts) =>
      new Promise((resolve, reject) => aedes.publish({ cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false }, (err) => (err ? reject(err) : resolve()))),
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => aedes.close(() => r()));
      await closed;
    },
  };
}
