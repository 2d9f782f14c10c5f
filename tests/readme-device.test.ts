/**
 * The README's "Connect a real device" section, run as written: `steward start --no-sim` as a
 * child process, the README's `steward sensors add` and `steward accounts add`, then its own
 * `mosquitto_pub` and `mosquitto_sub` commands (only host, port and passwords filled in) against
 * it. The readings must show in the API, and the refused example must come back on
 * `csm/v1/{hub}/rejected` exactly as the README shows it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/services.ts';
import { waitFor } from './fixtures/broker-setup.ts';
import { stewardNode } from './fixtures/steward-node.ts';
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SECTION = README.slice(README.indexOf('### Connect a real device'), README.indexOf('\n## ', README.indexOf('### Connect a real device')));
const blocks = (lang: string): string[] => [...SECTION.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => (m[1] as string).replace(/\\\n\s*/g, ''));

interface Latest {
  readings: Array<{ sensor: string; metric: string; value: number }>;
}

describe('README: connect a real device', () => {
  const node = stewardNode('steward-readme-');
  const { dir, env } = node;
  const secrets: Record<string, string> = {};

  /** A README shell line with this run's host, port and passwords. */
  const filled = (line: string): string =>
    line
      .replace('-h localhost -p 1883', `-h 127.0.0.1 -p ${node.mqttPort}`)
      .replace("'TECH_PASSWORD'", `'${secrets.tech}'`)
      .replace("'PASSWORD'", `'${secrets.device}'`);
  const sh = (line: string): Promise<{ code: number | null; stdout: string; stderr: string }> => runCli('bash', ['-c', filled(line)], { env, cwd: dir, timeoutMs: 15_000 });
  const latest = async (): Promise<Map<string, number>> => {
    const body = (await (await fetch(`${node.api}/api/v1/readings/latest?hub=demo&sensor=well-3`)).json()) as Latest;
    return new Map(body.readings.map((r) => [r.metric, r.value]));
  };

  beforeAll(async () => {
    await node.start();
  }, 90_000);

  afterAll(() => node.stop());

  it('registers the device with the command the README gives', async () => {
    const [add] = blocks('sh').filter((b) => b.startsWith('npx steward sensors add'));
    expect(add).toBeDefined();
    const args = (add as string).trim().replace(/^npx steward /, '').split(/\s+/);
    const r = await node.cli(...args, '--json');
    expect(r.code).toBe(0);
    const creds = JSON.parse(r.stdout) as { username: string; password: string; topic: string };
    expect(creds).toMatchObject({ username: 'demo.well-3', topic: 'csm/v1/demo/water/well-3/data' });
    secrets.device = creds.password;
    const tech = SECTION.match(/`steward accounts add ([^`]+)`/)?.[1] as string;
    const t = await node.cli('accounts', 'add', ...tech.split(/\s+/), '--json');
    expect(t.code).toBe(0);
    secrets.tech = (JSON.parse(t.stdout) as { password: string }).password;
  });

  it('stores the native JSON example, then the SenML one', async () => {
    const pubs = blocks('sh').filter((b) => b.startsWith('mosquitto_pub'));
    expect(pubs.length).toBe(3);
    const n = await sh(pubs[0] as string);
    expect(n.code, n.stderr).toBe(0);
    const afterNative = await waitFor(async () => ((await latest()).get('groundwater_level') === 41.2 ? latest() : undefined), 15_000, 'the native reading');
    expect(afterNative.get('water_temperature')).toBeCloseTo(12.25, 6); // 285.4 K
    const s = await sh(pubs[1] as string);
    expect(s.code, s.stderr).toBe(0);
    const afterSenml = await waitFor(async () => ((await latest()).get('groundwater_level') === 41.3 ? latest() : undefined), 15_000, 'the SenML reading');
    expect(afterSenml.get('water_temperature')).toBe(12.4);
  });

  it('refuses the example without seq, and says so on csm/v1/demo/rejected exactly as the README shows', async () => {
    const block = blocks('sh').find((b) => b.includes('mosquitto_sub')) as string;
    const [pub, sub] = block.trim().split('\n') as [string, string];
    // Subscribe first (-d prints the SUBACK; stdbuf: line by line into the pipe), then publish the README's refused message.
    const child = spawn('bash', ['-c', filled(sub).replace('mosquitto_sub ', 'stdbuf -oL mosquitto_sub -d ')], { env, cwd: dir });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor(() => /received SUBACK/.test(out), 10_000, 'the SUBACK of mosquitto_sub').catch((e: Error) => {
        throw new Error(`${e.message}; mosquitto_sub said:\n${out}`);
      });
      const p = await sh(pub);
      expect(p.code, p.stderr).toBe(0);
      expect(await done).toBe(0);
    } finally {
      child.kill();
    }
    const got = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) as string) as Record<string, string>;
    const shown = JSON.parse(
      (blocks('json').find((b) => b.includes('"code"')) as string).replace('"…"', '"x"').replace(/,…}"/, '}"'),
    ) as Record<string, string>;
    expect({ topic: got.topic, code: got.code, reason: got.reason, sensor: got.sensor }).toEqual({ topic: shown.topic, code: shown.code, reason: shown.reason, sensor: shown.sensor });
    expect(got.payload).toContain('"groundwater_level":41.2');
  });

  it('accepts the valid metrics of a partly valid message and dead-letters the bad one with its reason', async () => {
    const msg = JSON.stringify({ ts: Date.now(), seq: 44, metrics: { groundwater_level: 40.9, water_temperature: { value: 12, unit: 'furlongs' } } });
    const line = `mosquitto_pub -h localhost -p 1883 -q 1 -i demo.well-3 -u demo.well-3 -P 'PASSWORD' -t csm/v1/demo/water/well-3/data -m '${msg}'`;
    expect((await sh(line)).code).toBe(0);
    await waitFor(async () => (await latest()).get('groundwater_level') === 40.9, 15_000, 'the valid metric');
    expect((await latest()).get('water_temperature')).toBe(12.4); // unchanged: the bad value was left out
    const tok = await node.cli('tokens', 'add', 'readme-tech', '--role', 'technician', '--json');
    const token = (JSON.parse(tok.stdout) as { token: string }).token;
    const dl = (await (await fetch(`${node.api}/api/v1/rejections?hub=demo&code=unit`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rejections: Array<{ reason: string }> };
    expect(dl.rejections.map((d) => d.reason)).toEqual([expect.stringMatching(/^metric "water_temperature": .*furlongs.*; left out, the other metrics of the message were accepted$/)]);
  });
});
