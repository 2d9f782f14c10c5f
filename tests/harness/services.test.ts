import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  type InfluxHandle,
  type MosquittoHandle,
  type RedisHandle,
  type VmHandle,
  freePort,
  runCli,
  startInfluxDB,
  startMosquitto,
  startRedis,
  startVictoriaMetrics,
  stopAll,
} from './services.ts';

afterAll(async () => {
  await stopAll();
});

describe('harness: freePort', () => {
  it('returns distinct ports below the ephemeral range, claimed for this process', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (const p of ports) {
      expect(p).toBeLessThan(ephemeralLow);
      expect(readFileSync(join(tmpdir(), 'steward-test-ports', String(p)), 'utf8')).toBe(String(process.pid));
    }
  });
});

describe('harness: InfluxDB 1.6', () => {
  let influx: InfluxHandle;
  const t0 = Date.now() - 60_000;

  beforeAll(async () => {
    influx = await startInfluxDB();
  });
  afterAll(async () => {
    const dir = influx.dataDir;
    await influx.stop();
    expect(existsSync(dir)).toBe(false);
  });

  it('accepts line protocol on /write and answers InfluxQL', async () => {
    expect(influx.database).toBe('steward');
    const body = [
      `env,site=hub1,sensor=s1 temp=20.5,hum=40i ${t0}`,
      `env,site=hub1,sensor=s1 temp=21.5,hum=41i ${t0 + 1000}`,
      `env,site=hub1,sensor=s2 temp=22.5,hum=42i ${t0 + 2000}`,
    ].join('\n');
    const res = await fetch(`${influx.url}/write?db=steward&precision=ms`, { method: 'POST', body });
    expect(res.status).toBe(204);

    const out = await influx.query('SELECT temp, hum, sensor FROM env ORDER BY time ASC');
    const series = out.results?.[0]?.series?.[0];
    expect(series?.columns).toEqual(['time', 'temp', 'hum', 'sensor']);
    expect(series?.values).toEqual([
      [t0, 20.5, 40, 's1'],
      [t0 + 1000, 21.5, 41, 's1'],
      [t0 + 2000, 22.5, 42, 's2'],
    ]);

    const rows = await influx.queryRows('SELECT count(temp) FROM env GROUP BY sensor');
    expect(rows).toEqual([
      { sensor: 's1', time: 0, count: 2 },
      { sensor: 's2', time: 0, count: 1 },
    ]);
  });

  it('answers 404 on /api/v2/write (1.6 has no v2 API)', async () => {
    const res = await fetch(`${influx.url}/api/v2/write?org=o&bucket=steward&precision=ms`, {
      method: 'POST',
      body: `env,site=hub1 temp=1 ${t0}`,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(404);
  });

  it('keeps data across kill -9 and restart on the same port', async () => {
    const port = influx.port;
    await influx.write(`crash,site=hub1 v=7 ${t0 + 5000}`);
    influx.kill9();
    await expect(fetch(`${influx.url}/ping`)).rejects.toThrow();
    await influx.restart();
    expect(influx.port).toBe(port);
    expect(influx.running).toBe(true);
    expect(await influx.queryRows('SELECT v FROM crash')).toEqual([{ time: t0 + 5000, v: 7 }]);
    expect(await influx.queryRows('SELECT count(temp) FROM env')).toEqual([{ time: 0, count: 3 }]);
  });

  it('pause() makes storage unreachable, resume() brings it back with its data', async () => {
    expect(influx.pid).toBeGreaterThan(0);
    await influx.pause();
    expect(influx.running).toBe(false);
    expect(influx.pid).toBeUndefined();
    await expect(fetch(`${influx.url}/ping`)).rejects.toThrow();
    await influx.resume();
    expect(influx.running).toBe(true);
    expect(await influx.queryRows('SELECT count(temp) FROM env')).toEqual([{ time: 0, count: 3 }]);
  });

  it('reports statement errors and rejects HTTP errors', async () => {
    await expect(influx.query('SELECT * FROM env WHERE')).rejects.toThrow(/\(400\).*error parsing query/);
    const out = await influx.query('SELECT * FROM nosuchdb.autogen.env');
    expect(out.results?.[0]?.error).toMatch(/database not found/);
    await expect(influx.queryRows('SELECT * FROM nosuchdb.autogen.env')).rejects.toThrow(/database not found/);
  });
});

describe('harness: VictoriaMetrics', () => {
  let vm: VmHandle;

  beforeAll(async () => {
    vm = await startVictoriaMetrics();
  });
  afterAll(async () => {
    await vm.stop();
  });

  it('maps line protocol on /api/v2/write to {measurement}_{field} series with tags as labels', async () => {
    const now = Date.now();
    const res = await fetch(`${vm.url}/api/v2/write?org=o&bucket=b&precision=ms`, {
      method: 'POST',
      body: [`env,site=hub1,sensor=s1 temp=21.5,hum=40i ${now}`, `env,site=hub1,sensor=s1 temp=22.5,hum=41i ${now + 1000}`].join('\n'),
    });
    expect(res.status).toBe(204);

    const series = await vm.exportSeries('{__name__=~"env_.*"}');
    expect(series.map((s) => s.metric)).toEqual([
      { __name__: 'env_hum', sensor: 's1', site: 'hub1' },
      { __name__: 'env_temp', sensor: 's1', site: 'hub1' },
    ]);
    expect(series[0]?.values).toEqual([40, 41]);
    expect(series[1]?.values).toEqual([21.5, 22.5]);
    expect(series[1]?.timestamps).toEqual([now, now + 1000]);
  });

  it('adds a db label only for the v1 /write?db= endpoint; bools become 1, strings 0', async () => {
    const now = Date.now();
    const v1 = await fetch(`${vm.url}/write?db=steward&precision=ms`, { method: 'POST', body: `v1m,site=a x=1 ${now}` });
    expect(v1.status).toBe(204);
    await vm.write(`v2m,site=a x=2,ok=true,note="hi" ${now}`);
    const series = await vm.exportSeries('{__name__=~"v[12]m_.*"}');
    expect(series.map((s) => [s.metric, s.values])).toEqual([
      [{ __name__: 'v1m_x', db: 'steward', site: 'a' }, [1]],
      [{ __name__: 'v2m_note', site: 'a' }, [0]],
      [{ __name__: 'v2m_ok', site: 'a' }, [1]],
      [{ __name__: 'v2m_x', site: 'a' }, [2]],
    ]);
  });
});

describe('harness: failed starts', () => {
  it('reports the exit and the log tail when a service dies during startup', async () => {
    await expect(startVictoriaMetrics({ extraArgs: ['-no.such.flag=1'] })).rejects.toThrow(
      /victoria-metrics exited with code \d+ during startup; log .*victoria-metrics\.log:\n[\s\S]*no\.such\.flag/,
    );
  });
});

describe('harness: Mosquitto', () => {
  let broker: MosquittoHandle;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
  });

  /** Subscribe for one message, publishing until the subscriber has it (no race on SUBACK). */
  async function roundTrip(port: number, topic: string, message: string, auth: string[] = []): Promise<string> {
    const sub = runCli('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), ...auth, '-t', topic, '-C', '1', '-W', '10', '-q', '1'], {
      timeoutMs: 15_000,
    });
    let done = false;
    void sub.finally(() => (done = true));
    while (!done) {
      const pub = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), ...auth, '-t', topic, '-m', message, '-q', '1'], {
        timeoutMs: 5000,
      });
      expect(pub.code, pub.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await sub;
    expect(res.code, res.stderr).toBe(0);
    return res.stdout.trim();
  }

  it('relays mosquitto_pub to mosquitto_sub', async () => {
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(broker.pid).toBeGreaterThan(0);
    expect(await roundTrip(broker.port, 'steward/test', 'hello')).toBe('hello');
  });

  it('comes back on the same port after kill -9', async () => {
    const port = broker.port;
    broker.kill9();
    await broker.restart();
    expect(broker.port).toBe(port);
    expect(await roundTrip(broker.port, 'steward/again', 'back')).toBe('back');
  });

  it('with persistence, keeps a persistent session and its queued message across a restart', async () => {
    const durable = await startMosquitto({ persistence: true, maxQueuedMessages: 0 });
    try {
      const at = ['-h', '127.0.0.1', '-p', String(durable.port)];
      // A persistent session (-c) subscribes at QoS 1 and leaves; a message is queued for it.
      const sub = await runCli('mosquitto_sub', [...at, '-c', '-i', 'keeper', '-q', '1', '-t', 'steward/kept', '-E']);
      expect(sub.code, sub.stderr).toBe(0);
      const pub = await runCli('mosquitto_pub', [...at, '-q', '1', '-t', 'steward/kept', '-m', 'still here']);
      expect(pub.code, pub.stderr).toBe(0);
      await durable.restart(); // SIGTERM: mosquitto writes mosquitto.db, then starts from it
      const back = await runCli('mosquitto_sub', [...at, '-c', '-i', 'keeper', '-q', '1', '-t', 'steward/kept', '-C', '1', '-W', '10']);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdout.trim()).toBe('still here');
    } finally {
      await durable.stop();
    }
  });

  it('honours extra config (password file) even when run as root', async () => {
    const secured = await startMosquitto({
      prepare: async (dir) => {
        const r = await runCli('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), 'alice', 's3cret']);
        expect(r.code, r.stderr).toBe(0);
      },
      config: (dir) => `allow_anonymous false\npassword_file ${join(dir, 'passwd')}\n`,
    });
    try {
      const anon = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(secured.port), '-t', 'x', '-m', 'no'], { timeoutMs: 5000 });
      expect(anon.code).not.toBe(0);
      expect(await roundTrip(secured.port, 'steward/auth', 'yes', ['-u', 'alice', '-P', 's3cret'])).toBe('yes');
    } finally {
      await secured.stop();
    }
  });
});

describe('harness: Redis', () => {
  let redis: RedisHandle;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    const dir = redis.dir;
    await redis.stop();
    expect(existsSync(dir)).toBe(false);
  });

  const cli = (...args: string[]) => runCli('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), ...args], { timeoutMs: 5000 });

  it('answers on its url, and pause()/resume() is an outage that keeps the data and the port', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect((await cli('SET', 'steward:kept', 'yes')).stdout.trim()).toBe('OK');
    const port = redis.port;
    await redis.pause();
    expect((await cli('PING')).code).not.toBe(0);
    await redis.resume();
    expect(redis.port).toBe(port);
    expect((await cli('GET', 'steward:kept')).stdout.trim()).toBe('yes');
  });

  it('comes back on the same port after kill -9', async () => {
    const port = redis.port;
    redis.kill9();
    await redis.resume();
    expect(redis.port).toBe(port);
    expect((await cli('PING')).stdout.trim()).toBe('PONG');
  });
});
