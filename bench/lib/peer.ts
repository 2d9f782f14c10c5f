/**
 * The peer of the pipeline benchmark: what a hub could assemble from parts instead of Steward.
 * Mosquitto 2 (the Debian package; one password per device, queue raised) + Node-RED 4 with
 * node-red-contrib-influxdb (the flow of bench/peer/flows.json: mqtt in at QoS 1 -> json ->
 * function to an InfluxDB point -> join into batches of 500 or 250 ms -> influxdb batch) into
 * the same InfluxDB 1.6 as Steward.
 *
 * Node-RED is not a dependency of Steward: {@link ensureNodeRed} installs it with npm into a
 * cache directory outside the repository (default ~/.cache/steward-bench/node-red), once.
 *
 * Between Node-RED and InfluxDB sits {@link WriteProxy}, a plain HTTP proxy that, when InfluxDB
 * answers a `/write` with 204, records `now - ts` for every line of the body: the same
 * publish-to-stored latency that bench/lib/measuring-store.ts records inside Steward. It runs in
 * the bench's own process, so its CPU is not counted as the peer's.
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startMosquitto, type MosquittoHandle } from '../../tests/harness/services.ts';
import type { BenchSensor } from './fleet.ts';
import { MsHistogram, type LatencySummary } from './histogram.ts';

/** Versions installed (Node-RED 5 wants Node >= 22.9; Steward runs on Node 20). */
export const NODE_RED_VERSION = '4.1.8';
export const INFLUX_NODES_VERSION = '0.7.0';

export const DEFAULT_PEER_CACHE = join(os.homedir(), '.cache', 'steward-bench', 'node-red');

/**
 * Installs node-red and node-red-contrib-influxdb into `cacheDir` unless they are there. Returns
 * the path of Node-RED's red.js. Throws with npm's output when the install fails.
 */
export function ensureNodeRed(cacheDir: string, log: (msg: string) => void): string {
  const red = join(cacheDir, 'node_modules', 'node-red', 'red.js');
  const nodes = join(cacheDir, 'node_modules', 'node-red-contrib-influxdb', 'package.json');
  const installed = (pkg: string): string | undefined => {
    try {
      return (JSON.parse(readFileSync(join(cacheDir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return undefined;
    }
  };
  if (existsSync(red) && existsSync(nodes) && installed('node-red') === NODE_RED_VERSION && installed('node-red-contrib-influxdb') === INFLUX_NODES_VERSION) return red;
  log(`installing node-red@${NODE_RED_VERSION} and node-red-contrib-influxdb@${INFLUX_NODES_VERSION} with npm into ${cacheDir} (outside the repository; once)`);
  mkdirSync(cacheDir, { recursive: true });
  if (!existsSync(join(cacheDir, 'package.json'))) writeFileSync(join(cacheDir, 'package.json'), '{"name":"steward-bench-peer","private":true}\n');
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', `node-red@${NODE_RED_VERSION}`, `node-red-contrib-influxdb@${INFLUX_NODES_VERSION}`], { cwd: cacheDir, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm could not install Node-RED into ${cacheDir}: ${err.message}\n${err.stderr ?? ''}`, { cause: e });
  }
  return red;
}

/** Versions actually installed in the cache, for the report. */
export function peerVersions(cacheDir: string): Record<string, string> {
  const v = (pkg: string): string => {
    try {
      return (JSON.parse(readFileSync(join(cacheDir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const usage = ((): string => {
    try {
      return execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      // `mosquitto -h` exits 3 after printing its usage
      return String((e as { stdout?: string }).stdout ?? '');
    }
  })();
  const mosquitto = /mosquitto version (\S+)/.exec(usage)?.[1] ?? 'unknown';
  return { mosquitto, nodeRed: v('node-red'), influxNodes: v('node-red-contrib-influxdb'), influxClient: v('influx') };
}

/** Counts and latency of the writes InfluxDB accepted through the proxy. */
export class WriteProxy {
  readonly #latency = new MsHistogram();
  /** Lines (points) InfluxDB accepted. */
  stored = 0;
  /** /write requests answered with an error. */
  failed = 0;
  writes = 0;
  #server: Server | undefined;
  /** Keep-alive connections to InfluxDB, as Node-RED's client keeps them to the proxy. */
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  port = 0;

  readonly target: URL;

  constructor(target: URL) {
    this.target = target;
  }

  async start(): Promise<number> {
    this.port = await freePort();
    // No keep-alive or request timeouts: InfluxDB (Go's http.Server, no IdleTimeout) keeps an idle
    // keep-alive connection open, so the proxy must too. With Node's default 5 s keep-alive
    // timeout, a write sent on a connection the proxy is just closing fails with "socket hang up",
    // a failure the peer would not have without the proxy.
    this.#server = createServer({ requestTimeout: 0 }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const up = request({ agent: this.#agent, host: this.target.hostname, port: Number(this.target.port), method: req.method, path: req.url, headers: { ...req.headers, host: this.target.host } }, (ur) => {
          const out: Buffer[] = [];
          ur.on('data', (c: Buffer) => out.push(c));
          ur.on('end', () => {
            const now = Date.now();
            if (req.url?.startsWith('/write')) {
              this.writes++;
              if (ur.statusCode === 204) this.#record(req.url, body, now);
              else this.failed++;
            }
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            res.end(Buffer.concat(out));
          });
        });
        up.on('error', (err) => {
          if (req.url?.startsWith('/write')) this.failed++;
          res.writeHead(502);
          res.end(err.message);
        });
        up.end(body);
      });
    });
    this.#server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
    return this.port;
  }

  #record(url: string, body: Buffer, now: number): void {
    const precision = new URL(url, 'http://x').searchParams.get('precision') ?? 'n';
    const toMs = precision === 'ms' ? 1 : precision === 's' ? 1000 : precision === 'u' ? 1e-3 : 1e-6;
    for (const line of body.toString('utf8').split('\n')) {
      if (!line) continue;
      const ts = Number(line.slice(line.lastIndexOf(' ') + 1));
      this.stored++;
      if (Number.isFinite(ts)) this.#latency.record(now - ts * toMs);
    }
  }

  takeLatency(): LatencySummary {
    const s = this.#latency.summary();
    this.#latency.reset();
    return s;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#agent.destroy();
  }
}

/** The running peer. */
export interface Peer {
  mosquitto: MosquittoHandle;
  mosquittoPid: number | undefined;
  nodeRed: ChildProcess;
  proxy: WriteProxy;
  brokerUrl: string;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Mosquitto with a password per device (mosquitto_passwd, its default PBKDF2-SHA512) and its
 * queues raised (so that Node-RED falling behind does not make Mosquitto drop messages as soon as
 * 1,000 are queued, its default), then Node-RED subscribed through it, writing through the proxy.
 */
export async function startPeer(o: { redJs: string; influxUrl: string; database: string; creds: BenchSensor[]; dir: string; logDir: string; log: (m: string) => void; maxQueued: number; maxInflight: number }): Promise<Peer> {
  const noderedPw = `nr-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const settings = {
    max_queued_messages: String(o.maxQueued),
    max_inflight_messages: String(o.maxInflight),
    max_queued_bytes: '0',
    password_file: 'passwd (one entry per device, mosquitto_passwd -U)',
  };
  const mosquitto = await startMosquitto({
    prepare: (dir) => {
      writeFileSync(join(dir, 'passwd'), [...o.creds.map((c) => `${c.username}:${c.password}`), `nodered:${noderedPw}`].join('\n') + '\n', { mode: 0o600 });
      execFileSync('mosquitto_passwd', ['-U', join(dir, 'passwd')]);
    },
    config: (dir) =>
      [
        'allow_anonymous false',
        `password_file ${join(dir, 'passwd')}`,
        'max_queued_bytes 0',
        'log_type error',
        'log_type warning',
      ].join('\n'),
    // "Queue raised": Mosquitto's defaults are 1,000 queued and 20 in flight per client.
    maxQueuedMessages: o.maxQueued,
    maxInflightMessages: o.maxInflight,
    readyTimeoutMs: 30_000,
  });
  const mosquittoPid = mosquitto.pid;
  o.log(`mosquitto at ${mosquitto.url} (pid ${String(mosquittoPid)}), ${o.creds.length} device passwords, max_queued_messages ${o.maxQueued}, max_inflight_messages ${o.maxInflight}`);

  const proxy = new WriteProxy(new URL(o.influxUrl));
  const proxyPort = await proxy.start();

  const userDir = join(o.dir, 'node-red');
  mkdirSync(userDir, { recursive: true });
  // Node-RED finds node-red-contrib-influxdb in <userDir>/node_modules.
  symlinkSync(join(o.redJs, '..', '..'), join(userDir, 'node_modules'));
  const flowTemplate = readFileSync(fileURLToPath(new URL('../peer/flows.json', import.meta.url)), 'utf8');
  const flows = flowTemplate.replaceAll('${MQTT_PORT}', String(mosquitto.port)).replaceAll('${INFLUX_PORT}', String(proxyPort)).replaceAll('${INFLUX_DATABASE}', o.database);
  writeFileSync(join(userDir, 'flows.json'), flows);
  writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify({ f1b7e5c0a1d20002: { user: 'nodered', password: noderedPw }, f1b7e5c0a1d20003: { username: '', password: '' } }), { mode: 0o600 });
  const uiPort = await freePort();
  writeFileSync(
    join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify(
      {
        uiPort,
        uiHost: '127.0.0.1',
        flowFile: 'flows.json',
        credentialSecret: false,
        disableEditor: true,
        httpAdminRoot: '/admin',
        httpNodeRoot: false,
        diagnostics: { enabled: false },
        runtimeState: { enabled: false },
        telemetry: { enabled: false },
        externalModules: { autoInstall: false, palette: { allowInstall: false } },
        logging: { console: { level: 'info', metrics: false, audit: false } },
      },
      null,
      2,
    )};\n`,
  );
  const logFile = join(o.logDir, 'node-red.log');
  const logStream = createWriteStream(logFile, { flags: 'a' });
  const nodeRed = spawn(process.execPath, [o.redJs, '--userDir', userDir, '--settings', join(userDir, 'settings.js')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' } });
  nodeRed.stdout!.pipe(logStream, { end: false });
  nodeRed.stderr!.pipe(logStream, { end: false });
  // Ready once its MQTT client is connected and the flow started (Node-RED logs both).
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`Node-RED did not connect to Mosquitto within 90 s (log: ${logFile})`)), 90_000);
    const onData = (c: Buffer): void => {
      seen = (seen + c.toString('utf8')).slice(-20_000);
      if (/Connected to broker/.test(seen) && /Started flows/.test(seen)) {
        clearTimeout(timer);
        nodeRed.stdout!.off('data', onData);
        resolve();
      }
    };
    nodeRed.stdout!.on('data', onData);
    nodeRed.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Node-RED exited (code ${String(code)}) before it was ready (log: ${logFile})`));
    });
  });
  o.log(`Node-RED ${peerVersions(join(o.redJs, '..', '..', '..')).nodeRed} (pid ${String(nodeRed.pid)}) subscribed at QoS 1, writing to InfluxDB through the measuring proxy on port ${proxyPort}`);
  return {
    mosquitto,
    mosquittoPid,
    nodeRed,
    proxy,
    brokerUrl: mosquitto.url,
    settings,
    async stop() {
      if (nodeRed.exitCode === null && nodeRed.signalCode === null) {
        const exited = new Promise((r) => nodeRed.once('exit', r));
        nodeRed.kill('SIGTERM');
        const t = setTimeout(() => nodeRed.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      logStream.end();
      await proxy.stop();
      await mosquitto.stop();
    },
  };
}
