/**
 * `steward start` as a newcomer runs it: one real process with broker, ingest and API (no
 * simulators here, so the test controls the data), on ports chosen by the OS. A device registered
 * with `steward sensors add` publishes over MQTT; its reading shows up in the API; SIGTERM stops
 * everything and the process exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/services.ts';

const BIN = new URL('../bin/steward.js', import.meta.url).pathname;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((e: Error & { fatal?: boolean }) => {
      if (e.fatal) throw e;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('steward start (all in one, real process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-start-'));
  const env: NodeJS.ProcessEnv = { ...process.env, STEWARD_DATA_DIR: join(dir, 'data'), STEWARD_HTTP_PORT: '0', STEWARD_MQTT_PORT: '0', STEWARD_WS_PORT: '0', STEWARD_LOG_LEVEL: 'info' };
  delete env.STEWARD_CONFIG;
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let api = '';
  let mqttUrl = '';

  beforeAll(async () => {
    child = spawn(process.execPath, [BIN, 'start', '--no-sim'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    let gone = false;
    void exited.then(() => (gone = true));
    await until('the start-up banner', async () => {
      if (gone) throw Object.assign(new Error('steward start exited early'), { fatal: true });
      return /Stop with Ctrl\+C/.test(stdout) ? true : undefined;
    }, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    });
    api = /Latest readings\s+(http:\/\/localhost:\d+)\/api\/v1\/readings\/latest/.exec(stdout)![1]!;
    mqttUrl = /MQTT\s+(mqtt:\/\/localhost:\d+)/.exec(stdout)![1]!;
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints, for a newcomer, the URLs to look at and the data dir', () => {
    for (const path of ['/api/v1/readings/latest', '/api/v1/sensors', '/metrics', '/openapi.json']) expect(stdout).toContain(`${api}${path}`);
    expect(stdout).toMatch(/MQTT\/WebSocket\s+ws:\/\/localhost:\d+/);
    expect(stdout).toContain(join(dir, 'data'));
  });

  it('is ready: broker up, storage reachable', async () => {
    const r = await fetch(`${api}/ready`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ready', checks: { broker: 'up', storage: 'up' }, spoolDepth: 0 });
  });

  it('a sensor added with the CLI connects at once; its reading reaches the API and it shows online', async () => {
    const add = await runCli(process.execPath, [BIN, 'sensors', 'add', 'demo', 'water', 'well-1', '--json'], { env, cwd: dir });
    expect(add.code).toBe(0);
    const { username, password, topic } = JSON.parse(add.stdout) as { username: string; password: string; topic: string };
    const device = await mqtt.connectAsync(mqttUrl, { username, password, clientId: username, reconnectPeriod: 0 });
    try {
      const ts = Date.now();
      await device.publishAsync(topic, JSON.stringify({ ts, seq: 1, metrics: { groundwater_level: 12.5 } }), { qos: 1 });
      const latest = await until('the reading in the API', async () => {
        const body = (await (await fetch(`${api}/api/v1/readings/latest?hub=demo`)).json()) as { readings: Array<{ sensor: string; value: number; ts: number }> };
        return body.readings.length ? body.readings : undefined;
      });
      expect(latest).toEqual([expect.objectContaining({ sensor: 'well-1', metric: 'groundwater_level', value: 12.5, unit: 'm', ts })]);
      const sensors = (await (await fetch(`${api}/api/v1/sensors`)).json()) as { sensors: Array<Record<string, unknown>> };
      expect(sensors.sensors).toEqual([expect.objectContaining({ sensor: 'well-1', online: true, onlineSource: 'status', lastSeen: ts })]);
      const metrics = await (await fetch(`${api}/metrics`)).text();
      expect(metrics).toMatch(/steward_readings_accepted_total\{hub="demo",domain="water"\} 1/);
    } finally {
      await device.endAsync();
    }
  });

  it('SIGTERM stops the roles in order and exits 0', async () => {
    const t0 = Date.now();
    child!.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const stopped = [...stdout.matchAll(/"role":"(\w+)","msg":"stopped"/g)].map((m) => m[1]);
    expect(stopped).toEqual(['rules', 'api', 'status', 'broker', 'privacy', 'storage']);
  });
});
