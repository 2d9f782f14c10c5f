/**
 * Scenario: a newcomer runs `steward start --scenario drought` (real process, accelerated time).
 * A hub member's account, subscribed to the hub's alert topics over MQTT, receives the aquifer
 * depletion forecast within two minutes; the same alert is at /api/v1/alerts; a steward
 * acknowledges it through the API and the reminders stop.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.ts';
import { eventually } from './harness/devices.ts';
import { freePort } from './harness/services.ts';
import { spawnSteward, writeConfig, type StewardProcess } from './harness/steward.ts';

const TOKEN = 'steward-token-for-the-e2e-test';

describe('drought scenario, end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-drought-'));
  let start: StewardProcess | undefined;
  afterAll(async () => {
    await start?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the depletion alert to a hub member and the API within two minutes, and an ack stops reminders', async () => {
    // The shipped rules, with reminders every 3 s instead of every 4 h (the default of every rule) so
    // the test can see them stop. They go out on housekeeping runs (every 10 s).
    const rulesDir = join(dir, 'rules');
    mkdirSync(rulesDir);
    const shipped = readFileSync(new URL('../rules/defaults/demo.yaml', import.meta.url), 'utf8');
    writeFileSync(join(rulesDir, 'demo.yaml'), shipped.replace(/renotify: 4h/, 'renotify: 3s'));
    const [mqttPort, wsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const configPath = writeConfig(dir, {
      dataDir: join(dir, 'data'),
      mqtt: { host: '127.0.0.1', port: mqttPort, wsPort },
      http: { host: '127.0.0.1', port: httpPort, tokens: [{ name: 'ana', token: TOKEN, role: 'steward' }] },
      simulators: { brokerUrl: `mqtt://127.0.0.1:${mqttPort}` },
      rules: { paths: [rulesDir] },
    });
    const registry = Registry.open(join(dir, 'data'));
    await registry.addAccount({ name: 'riverside', role: 'hub', hub: 'demo', password: 'riverside-password' });
    registry.close();

    const t0 = Date.now();
    start = spawnSteward(['start', '--scenario', 'drought', '--config', configPath], { env: { STEWARD_LOG_LEVEL: 'warn' } });
    await start.waitFor(/Latest readings/, 60_000);
    const member = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: 'riverside', password: 'riverside-password', clientId: 'riverside-1' });
    const got: Array<{ topic: string; at: number; body: Record<string, unknown> | null }> = [];
    member.on('message', (topic, p) => got.push({ topic, at: Date.now(), body: p.length ? JSON.parse(p.toString()) : null }));
    await member.subscribeAsync('csm/v1/demo/alerts/#', { qos: 1 });

    const topic = 'csm/v1/demo/alerts/aquifer-depletion/well-1';
    const fired = await eventually(() => got.find((g) => g.topic === topic && g.body?.state === 'firing'), 120_000, 250);
    expect(fired.at - t0).toBeLessThan(120_000);
    expect(String(fired.body?.message)).toMatch(/^Aquifer at well-1 \(demo\) is projected to reach its safe minimum of [\d.]+ m in [\d.]+ days? \(on \d{4}-\d\d-\d\d\) at the current rate of -[\d.]+ m\/day/);

    const api = `http://127.0.0.1:${httpPort}`;
    const list = (await (await fetch(`${api}/api/v1/alerts?state=firing&hub=demo`)).json()) as { alerts: Array<{ id: string; severity: string }> };
    const mine = list.alerts.find((a) => a.id === 'demo.aquifer-depletion.well-1');
    expect(mine).toBeDefined();

    // Reminders arrive while nobody has acknowledged it, for this alert and another one (well-2's
    // depletion, the withdrawals): the other one's reminders mark the housekeeping runs below.
    const reminder = (g: (typeof got)[number]): boolean => g.body?.event === 'renotify';
    await eventually(() => got.some((g) => g.topic === topic && reminder(g)), 30_000, 100);
    const other = (await eventually(() => got.find((g) => g.topic !== topic && reminder(g)), 60_000, 100)).topic;
    const noToken = await fetch(`${api}/api/v1/alerts/demo.aquifer-depletion.well-1/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noToken.status).toBe(401);
    const ack = await fetch(`${api}/api/v1/alerts/demo.aquifer-depletion.well-1/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'pumping schedule halved' }),
    });
    expect(ack.status).toBe(200);
    const after = (await (await fetch(`${api}/api/v1/alerts/demo.aquifer-depletion.well-1`)).json()) as { alert: { acknowledged: { by: string } | null }; history: unknown[] };
    expect(after.alert.acknowledged?.by).toBe('ana');
    expect(after.history.length).toBeGreaterThan(0);
    // The ack reaches the member as an update; a reminder queued before it arrives before it.
    const update = await eventually(() => got.find((g) => g.topic === topic && g.body?.event === 'update'), 15_000, 100);
    expect((update.body?.acknowledged as { by?: string } | null)?.by).toBe('ana');
    // Two housekeeping runs after the ack (the other alert is reminded at most once a run, and twice
    // after the update): each would have reminded an unacknowledged well-1, and none did.
    const afterAck = (): typeof got => got.slice(got.indexOf(update) + 1);
    await eventually(() => afterAck().filter((g) => g.topic === other && reminder(g)).length >= 2, 40_000, 100);
    expect(afterAck().filter((g) => g.topic === topic && reminder(g))).toEqual([]);
    await member.endAsync();
  }, 300_000);
});
