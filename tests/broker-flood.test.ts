/**
 * Scenario: an attacker opens many unauthenticated connections whose first packet announces ~100 MB
 * and then streams junk (Mosquitto's "bad initial packets" test: 14 × 100 MB, memory may not grow by
 * more than 20 MB). Without a guard Aedes buffers whatever is announced (measured: +157 MB for
 * one socket). The broker runs in a child process so its RSS can be read from /proc; afterwards a
 * legitimate client must still connect and round-trip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE, collect, connectClient, sleep, waitFor } from './fixtures/broker-setup.ts';

const MB = 1024 * 1024;
const CHILD = fileURLToPath(new URL('./fixtures/broker-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Resident set size of a process, bytes, from /proc/<pid>/status. */
function vmRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/**
 * Sends a fixed header of `type` announcing `announced` bytes, then up to `junkBytes` of junk in
 * 64 KiB chunks, respecting back-pressure. Resolves with the bytes written and whether the broker
 * closed the socket before the junk ran out.
 */
function flood(port: number, firstByte: number, announced: number, junkBytes: number): Promise<{ written: number; closedByBroker: boolean }> {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    let written = 0;
    let finished = false;
    const done = (closedByBroker: boolean): void => {
      if (finished) return;
      finished = true;
      s.destroy();
      resolve({ written, closedByBroker });
    };
    s.on('error', () => done(true));
    s.on('close', () => done(true));
    s.on('connect', () => {
      s.write(Buffer.concat([Buffer.from([firstByte]), varint(announced)]));
      const pump = (): void => {
        while (!finished && written < junkBytes) {
          written += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
        // All junk sent and the socket is still open: give the broker a moment to react.
        if (!finished) setTimeout(() => done(s.destroyed), 1000);
      };
      pump();
    });
  });
}

describe('broker memory under a flood of bogus first packets', () => {
  let child: ChildProcess;
  let pid: number;
  let ports: { mqtt: number; ws: number };

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, STEWARD_TEST_USER: SERVICE.username, STEWARD_TEST_PASSWORD: SERVICE.password },
    });
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<{ pid: number; ports: { mqtt: number; ws: number } }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('broker child did not start within 30 s')), 30_000);
      child.once('exit', (code) => reject(new Error(`broker child exited early with ${code}`)));
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { pid: number; ports: { mqtt: number; ws: number } });
      });
    });
    pid = ready.pid;
    ports = ready.ports;
  });

  afterAll(async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin?.end('stop\n');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  });

  async function roundTrip(tag: string): Promise<void> {
    const url = `mqtt://127.0.0.1:${ports.mqtt}`;
    const sub = await connectClient(url, { ...SERVICE, clientId: `flood-sub-${tag}` });
    const pub = await connectClient(url, { ...SERVICE, clientId: `flood-pub-${tag}` });
    try {
      const got = collect(sub);
      await sub.subscribeAsync('csm/flood/check', { qos: 1 });
      await pub.publishAsync('csm/flood/check', tag, { qos: 1 });
      await waitFor(() => got.find((m) => m.payload === tag), 5000, 'the round trip');
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  }

  it('keeps RSS growth under 30 MB for 14 sockets announcing 100 MB each, then serves a legitimate client', async () => {
    await roundTrip('warm-up');
    await sleep(300);
    const baseline = vmRss(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, vmRss(pid));
      } catch {
        // the child is gone; the assertions below will say so
      }
    }, 20);
    try {
      // Half announce a 100 MB CONNECT (refused on its length), half a 100 MB PUBLISH before CONNECT
      // (refused on its type); each then streams up to 4 MB of junk.
      const results = await Promise.all(Array.from({ length: 14 }, (_, i) => flood(ports.mqtt, i % 2 === 0 ? 0x10 : 0x30, 100_000_000, 4 * MB)));
      // Two WebSocket clients send one 4 MB frame each: ws refuses frames over maxPacketSize.
      const wsClosed = await Promise.all(
        [0, 1].map(
          () =>
            new Promise<number>((resolve) => {
              const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}`, 'mqtt');
              ws.on('error', () => undefined);
              ws.on('open', () => ws.send(Buffer.concat([Buffer.from([0x10]), varint(100_000_000), Buffer.alloc(4 * MB, 0x41)])));
              ws.on('close', (code) => resolve(code));
            }),
        ),
      );
      await sleep(500);
      peak = Math.max(peak, vmRss(pid));
      const growth = peak - baseline;
      console.log(`broker RSS: baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${(growth / MB).toFixed(1)} MB; junk accepted before close per socket: ${results.map((r) => (r.written / MB).toFixed(2)).join(', ')} MB; ws close codes ${wsClosed.join(', ')}`);
      expect(results.every((r) => r.closedByBroker)).toBe(true);
      expect(wsClosed.every((code) => code === 1009 || code === 1006)).toBe(true);
      expect(growth).toBeLessThan(30 * MB);
    } finally {
      clearInterval(sampler);
    }
    await roundTrip('after-flood');
    expect(child.exitCode).toBeNull();
  });
});
