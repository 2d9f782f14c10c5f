/**
 * The roles as separate processes, as on a hub spread over several machines: `steward broker`,
 * `steward api`, `steward ingest` and `steward sim` share only a data dir and MQTT. Simulated
 * readings flow broker -> ingest -> embedded store -> API; SIGTERM stops each process with exit 0.
 * Also `steward start` with its simulated fleet, as a newcomer runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/services.ts';

const BIN = new URL('../bin/steward.js', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  /** Resolves with the first JSON log line matching `pred` (rejects if the process exits first). */
  logLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

const procs: Proc[] = [];

function steward(args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const p: Proc = {
    child,
    stdout: () => out,
    exited,
    async logLine(pred, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void exited.then(() => (done = true));
      for (;;) {
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            const l = JSON.parse(line) as Record<string, unknown>;
            if (pred(l)) return l;
          } catch {
            // partial line
          }
        }
        if (done || Date.now() > deadline) throw new Error(`steward ${args.join(' ')}: no such log line (${done ? 'exited' : 'timeout'})\nstdout:\n${out.slice(-3000)}\nstderr:\n${err.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  procs.push(p);
  return p;
}

async function stop(p: Proc): Promise<number | null> {
  p.child.kill('SIGTERM');
  return p.exited;
}

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Latest = { readings: Array<{ domain: string; sensor: string }> };

describe('roles in separate processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-roles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base: NodeJS.ProcessEnv = { ...process.env, STEWARD_DATA_DIR: join(dir, 'data'), STEWARD_LOG_LEVEL: 'info' };
  delete base.STEWARD_CONFIG;
  delete base.STEWARD_INGEST_PASSWORD;

  it('broker (node) + api + sim, each its own process, share readings through MQTT and the data dir; each serves /ready', async () => {
    const config = join(dir, 'steward.yaml');
    const writeConf = (port?: number): void =>
      writeFileSync(
        config,
        `http:\n  rolePorts: { broker: 0, ingest: 0, rules: 0 }\n` + (port ? `ingest:\n  brokerUrl: mqtt://127.0.0.1:${port}\nsimulators:\n  brokerUrl: mqtt://127.0.0.1:${port}\n  hub: north\n` : ''),
      );
    writeConf();
    const broker = steward(['broker'], { ...base, STEWARD_CONFIG: config, STEWARD_MQTT_PORT: '0', STEWARD_WS_PORT: '0' }, dir);
    const listening = await broker.logLine((l) => l.msg === 'broker listening');
    const opsUrl = String((await broker.logLine((l) => l.msg === 'health, readiness and metrics served')).url);
    const port = (listening.ports as { mqtt: number }).mqtt;
    writeConf(port);
    const env = { ...base, STEWARD_CONFIG: config };

    // The node alone answers /ready (broker up, intake acknowledging, storage reachable) and /metrics.
    const ready = await fetch(`${opsUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', role: 'broker', checks: { broker: { ok: true }, intake: { ok: true }, storage: { ok: true } } });
    expect(await (await fetch(`${opsUrl}/metrics`)).text()).toContain('steward_spool_depth');

    // `steward ingest` (for a broker Steward does not run) refuses to start without its password and says how to fix it.
    const noPw = await runCli(process.execPath, [BIN, 'ingest'], { env, cwd: dir });
    expect(noPw.code).toBe(2);
    expect(noPw.stderr).toContain('steward accounts add ingest --role service');

    const api = steward(['api'], { ...env, STEWARD_HTTP_PORT: '0' }, dir);
    const apiUrl = String((await api.logLine((l) => l.msg === 'API listening')).url);
    const sim = steward(['sim', '--seed', '7'], env, dir);
    await sim.logLine((l) => l.msg === 'simulated fleet publishing');

    const domains = await poll('readings of water, soil and energy in the API', async () => {
      const body = (await (await fetch(`${apiUrl}/api/v1/readings/latest?hub=north`)).json()) as Latest;
      const d = new Set(body.readings.map((r) => r.domain));
      return ['water', 'soil', 'energy'].every((x) => d.has(x)) ? d : undefined;
    });
    expect(domains.has('water')).toBe(true);
    expect(statSync(join(dir, 'data', 'sim-credentials.json')).mode & 0o777).toBe(0o600);

    // Stop in the order an operator would: sim, api, broker. Each exits 0.
    expect(await stop(sim)).toBe(0);
    expect(await stop(api)).toBe(0);
    expect(await stop(broker)).toBe(0);
  });
});

describe('steward start with its simulated fleet', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-start-sim-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows readings of all four domains within 30 s of the command, then stops sim first and exits 0 on SIGINT', async () => {
    const started = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env, STEWARD_DATA_DIR: join(dir, 'data'), STEWARD_HTTP_PORT: '0', STEWARD_MQTT_PORT: '0', STEWARD_WS_PORT: '0', STEWARD_LOG_LEVEL: 'info' };
    delete env.STEWARD_CONFIG;
    const p = steward(['start'], env, dir);
    await p.logLine((l) => l.msg === 'simulated fleet publishing', 60_000);
    const api = /Latest readings\s+(http:\/\/localhost:\d+)\//.exec(p.stdout())?.[1];
    expect(api).toBeDefined();
    await poll('simulated readings of all four domains', async () => {
      const body = (await (await fetch(`${api}/api/v1/readings/latest?hub=demo`)).json()) as { readings: Array<{ domain: string }> };
      return new Set(body.readings.map((r) => r.domain)).size === 4 ? true : undefined;
    });
    // The bar for a newcomer: within 30 s of running the command.
    expect(Date.now() - started).toBeLessThan(30_000);
    const sensors = (await (await fetch(`${api}/api/v1/sensors?hub=demo`)).json()) as { sensors: Array<{ online: boolean }> };
    expect(sensors.sensors.length).toBeGreaterThanOrEqual(10);
    expect(sensors.sensors.some((s) => s.online)).toBe(true);
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    const stopped = [...p.stdout().matchAll(/"role":"(\w+)","msg":"stopped"/g)].map((m) => m[1]);
    expect(stopped).toEqual(['sim', 'rules', 'api', 'status', 'broker', 'privacy', 'storage']);
  });
});
