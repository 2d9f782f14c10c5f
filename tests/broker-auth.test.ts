/**
 * Scenario: an attacker guesses passwords and hoards connections; a device that mistyped once
 * does not notice. Real broker, real sockets; the broker's clock is a manual one so backoff
 * delays pass without waiting. A second source address is 127.0.0.2 (Linux routes 127/8 to lo).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, clientTracker, rawConnect, startTestBroker, waitFor, type TestBroker } from './fixtures/broker-setup.ts';

const NOT_AUTHORIZED = 5;

describe('broker: guessing gets nowhere', () => {
  let tb: TestBroker;
  const clock = { t: Date.parse('2026-06-01T12:00:00Z'), now(): number { return this.t; } };
  const { track, closeAll } = clientTracker();
  const refused = async (reason: string): Promise<number> => (await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  const login = async (username: string, password: string, from?: string): Promise<number | undefined> => {
    const r = await rawConnect(tb.ports.mqtt, { clientId: username, username, password }, from);
    track(r.raw);
    return r.returnCode;
  };

  beforeAll(async () => {
    tb = await startTestBroker({ broker: { clock }, mqtt: { loginBackoff: { username: { freeFailures: 3, lockoutAfter: 10 }, address: { freeFailures: 40, lockoutAfter: 100 }, baseDelayMs: 1000, maxDelayMs: 60_000, lockoutMs: 300_000, forgetAfterMs: 900_000 } } });
  });
  afterEach(closeAll);
  afterAll(async () => {
    await tb?.stop();
  });

  it('backs off a guessed username before checking any password, even the right one, and admits it once the delay has passed', async () => {
    const { password } = await tb.registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1' });
    const before = { bad: await refused('bad_credentials'), backoff: await refused('login_backoff') };
    const codes: Array<number | undefined> = [];
    for (let i = 0; i < 30; i++) codes.push(await login('demo.well-1', `guess-${i}`));
    expect(codes.every((c) => c === NOT_AUTHORIZED)).toBe(true);
    // 3 free failures and a 4th that starts the 1 s delay; the other 26 never reached the registry.
    expect((await refused('bad_credentials')) - before.bad).toBe(4);
    expect((await refused('login_backoff')) - before.backoff).toBe(26);
    expect(await login('demo.well-1', password)).toBe(NOT_AUTHORIZED);
    clock.t += 1000;
    expect(await login('demo.well-1', password)).toBe(0);
  });

  it('locks a username out for five minutes after ten failures', async () => {
    const { password } = await tb.registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-2' });
    for (let i = 0; i < 10; i++) {
      await login('demo.well-2', 'wrong-password');
      clock.t += 60_000; // every delay (at most 32 s here) has passed
    }
    clock.t -= 60_000;
    const lockouts = await refused('login_lockout');
    expect(await login('demo.well-2', password)).toBe(NOT_AUTHORIZED);
    expect((await refused('login_lockout')) - lockouts).toBe(1);
    clock.t += 299_000;
    expect(await login('demo.well-2', password)).toBe(NOT_AUTHORIZED);
    clock.t += 1000;
    expect(await login('demo.well-2', password)).toBe(0);
  });

  it('lets a device that mistyped once connect at once with the right password', async () => {
    const { password } = await tb.registry.addSensor({ hub: 'demo', domain: 'soil', sensor: 'probe-1' });
    expect(await login('demo.probe-1', 'typo')).toBe(NOT_AUTHORIZED);
    expect(await login('demo.probe-1', password)).toBe(0);
  });

  it('backs off an address that sprays usernames, while other addresses log in', async () => {
    const { password } = await tb.registry.addSensor({ hub: 'demo', domain: 'soil', sensor: 'probe-2' });
    for (let i = 0; i < 41; i++) expect(await login(`demo.ghost-${i}`, 'x-password', '127.0.0.3')).toBe(NOT_AUTHORIZED);
    const backoff = await refused('login_backoff');
    expect(await login('demo.probe-2', password, '127.0.0.3')).toBe(NOT_AUTHORIZED);
    expect((await refused('login_backoff')) - backoff).toBe(1);
    expect(await login('demo.probe-2', password, '127.0.0.2')).toBe(0);
  });
});

describe('broker: one address cannot hold every connection slot', () => {
  let tb: TestBroker;
  const { track, closeAll } = clientTracker();
  const dial = async (localAddress: string): Promise<RawClient> => track(await RawClient.connect(tb.ports.mqtt, localAddress));

  beforeAll(async () => {
    tb = await startTestBroker({ mqtt: { maxConnectionsPerAddress: 3, maxConnections: 100 } });
  });
  afterAll(async () => {
    await closeAll();
    await tb?.stop();
  });

  it('refuses a fourth socket from one address (loopback too), admits other addresses, and admits again when one closes', async () => {
    const mine = [await dial('127.0.0.1'), await dial('127.0.0.1'), await dial('127.0.0.1')];
    const fourth = await dial('127.0.0.1');
    expect(await fourth.closesWithin(5000)).toBe(true);
    const count = (await tb.metrics.brokerRefused.get()).values.find((v) => v.labels.reason === 'address_connections')?.value;
    expect(count).toBe(1);
    // Another address is unaffected: a full CONNECT succeeds from it.
    const other = await rawConnect(tb.ports.mqtt, { clientId: 'svc-a', username: 'ingest', password: 'service-password-1' }, '127.0.0.2');
    expect(other.returnCode).toBe(0);
    other.raw.destroy();
    mine[0]?.destroy();
    const again = await waitFor(async () => {
      const r = await rawConnect(tb.ports.mqtt, { clientId: 'svc-b', username: 'ingest', password: 'service-password-1' }).catch(() => undefined);
      if (r?.returnCode === 0) return r;
      r?.raw.destroy();
      return undefined;
    });
    expect(again.returnCode).toBe(0);
    again.raw.destroy();
  });
});
