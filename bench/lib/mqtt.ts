/**
 * MQTT client helpers for the bench roles, with Nagle's algorithm off.
 *
 * mqtt.js 5.16 opens TCP with `net.createConnection({ port, host })` and never calls
 * `setNoDelay` (node_modules/mqtt/build/lib/connect/tcp.js), so a small QoS 1 PUBLISH or PUBACK
 * can wait for the previous segment's ACK (up to the peer's delayed-ACK timer, 40 ms on Linux).
 * The broker side already sets TCP_NODELAY on every accepted socket (broker/broker.ts #admit).
 * @module
 */
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * Creates an mqtt.js client whose TCP socket has TCP_NODELAY set, through the client's own
 * `streamBuilder` hook (also used on every reconnect), and resolves once CONNACK arrives.
 * Rejects on a refused CONNECT, on an error before CONNACK, or after `timeoutMs`.
 */
export function connectNoDelay(url: string, opts: IClientOptions, timeoutMs = 120_000): Promise<MqttClient> {
  const u = new URL(url);
  if (u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') throw new Error(`connectNoDelay supports mqtt:// only, got ${url}`);
  const host = u.hostname;
  const port = Number(u.port || 1883);
  const client = new mqtt.MqttClient(() => {
    const s = net.createConnection({ host, port });
    s.setNoDelay(true);
    return s;
  }, { protocolVersion: 4, ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`${opts.clientId ?? 'client'}: no CONNACK within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      client.removeListener('connect', onConnect);
      client.end(true);
      reject(err);
    };
    const onConnect = (): void => {
      clearTimeout(timer);
      client.removeListener('error', onError);
      resolve(client);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
  });
}

/**
 * Makes every TCP socket this process opens with `net.createConnection` set TCP_NODELAY. For the
 * ingest role only, whose mqtt.js client is built inside `createIngest` where no stream builder
 * can be passed (mqtt.js calls `net.createConnection` through the CommonJS module object, so the
 * patched property is what it calls). A proposed change in ingest/ingest.ts makes this unneeded.
 */
export function forceNoDelay(): void {
  const original = net.createConnection;
  const patched = ((...args: Parameters<typeof net.createConnection>) => {
    const s = original(...args);
    s.setNoDelay(true);
    return s;
  }) as typeof net.createConnection;
  (net as { createConnection: typeof net.createConnection }).createConnection = patched;
}
