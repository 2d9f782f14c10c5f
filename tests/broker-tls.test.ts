/**
 * Scenario: a hub configures a certificate, so devices connect over MQTT/TLS (mqtts, port 8883 by
 * default). The TLS listener exists only with a certificate and key, checks credentials and the ACL
 * like the others, and keeps the byte guard. Certificates are generated with the openssl CLI.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerError } from '../broker/errors.ts';
import { runCli } from './harness/services.ts';
import { DEVICE_PASSWORD, SERVICE, addDevice, collect, connectClient, startTestBroker, waitFor, type TestBroker } from './fixtures/broker-setup.ts';

describe('MQTT over TLS', () => {
  let certDir: string;
  let cert: string;
  let key: string;
  let tb: TestBroker;

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'steward-tls-'));
    cert = join(certDir, 'cert.pem');
    key = join(certDir, 'key.pem');
    const r = await runCli('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    expect(r.code, r.stderr).toBe(0);
    tb = await startTestBroker({ mqtt: { tlsCert: cert, tlsKey: key } });
    await addDevice(tb.registry, 'north', 'energy', 'battery-1');
  });

  afterAll(async () => {
    await tb?.stop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  it('accepts devices over mqtts and delivers their readings to subscribers on plain TCP', async () => {
    expect(tb.ports.tls).toBeGreaterThan(0);
    const sub = await connectClient(tb.url, { ...SERVICE, clientId: 'tls-sub' });
    const got = collect(sub);
    await sub.subscribeAsync('csm/v1/north/energy/+/data', { qos: 1 });
    const dev = await connectClient(`mqtts://127.0.0.1:${tb.ports.tls}`, { username: 'north.battery-1', password: DEVICE_PASSWORD, clientId: 'north.battery-1', ca: readFileSync(cert), rejectUnauthorized: true });
    try {
      await dev.publishAsync('csm/v1/north/energy/battery-1/data', '{"tls":true}', { qos: 1 });
      await waitFor(() => got.find((m) => m.payload === '{"tls":true}'), 5000, 'the reading over TLS');
      // A wrong password is refused over TLS as well.
      const refused = await connectClient(`mqtts://127.0.0.1:${tb.ports.tls}`, { username: 'north.battery-1', password: 'wrong-password', clientId: 'north.battery-1', ca: readFileSync(cert) }).then(
        (c) => c,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(Error);
    } finally {
      await Promise.all([sub.endAsync(), dev.endAsync()]);
    }
  });

  it('drops a TLS connection whose first packet is not CONNECT', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: tb.ports.tls!, ca: readFileSync(cert), servername: 'localhost' }, () => {
        s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x20])); // PUBLISH announcing 64 MiB
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    expect(closed).toBe(true);
  });

  it('works with mosquitto_pub over TLS', async () => {
    const sub = await connectClient(tb.url, { ...SERVICE, clientId: 'tls-sub-2' });
    const got = collect(sub);
    await sub.subscribeAsync('csm/v1/north/energy/+/data', { qos: 1 });
    try {
      const pub = await runCli('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(tb.ports.tls), '--cafile', cert, '-u', 'north.battery-1', '-P', DEVICE_PASSWORD, '-i', 'north.battery-1', '-q', '1', '-t', 'csm/v1/north/energy/battery-1/data', '-m', '{"cli":"tls"}']);
      expect(pub.code, pub.stderr).toBe(0);
      await waitFor(() => got.find((m) => m.payload === '{"cli":"tls"}'), 5000, 'the mosquitto_pub reading');
    } finally {
      await sub.endAsync();
    }
  });

  it('opens no TLS listener without a certificate, and fails to start on an unreadable one', async () => {
    const plain = await startTestBroker();
    try {
      expect(plain.ports.tls).toBeUndefined();
    } finally {
      await plain.stop();
    }
    const err = await startTestBroker({ mqtt: { tlsCert: join(certDir, 'missing.pem'), tlsKey: key } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as BrokerError).code).toBe('BROKER_ERR_TLS');
  });
});
