import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../storage/index.ts';
import type { EvaluationPoint } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { batteryRule, DAY, harness, type Harness, HOUR, MIN, reading, ruleFile, T0 } from './testing.ts';

const BATTERY = batteryRule({ renotify: '1h' });

const AQUIFER = `
rules:
  - id: aquifer-depletion
    kind: depletion
    select: { metric: groundwater_level }
    window: 3d
    floor: 40
    horizon: 30d
`;

/** Hourly levels falling 0.5 m/day from 50 m, for `days` days. */
function falling(days: number): ReturnType<typeof reading>[] {
  return Array.from({ length: days * 24 + 1 }, (_, hour) => reading('well-1', T0 + hour * HOUR, { groundwater_level: 50 - hour / 48 }));
}

describe('rules engine', () => {
  let h: Harness;
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    await h?.close();
    for (const f of cleanup.splice(0)) await f();
  });

  it('restart while firing: the new engine (same state dir) is still firing and does not notify again', async () => {
    // Scenario: battery at 10 % fires; the process stops and a new engine starts on the same state;
    // readings keep it under the limit for an hour (re-notify after 1 h must count from the first one).
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    expect(h.published).toHaveLength(1);
    await h.engine.stop();
    h.clock.advance(10 * MIN);
    await h.restart();
    expect(h.engine.alerts({ state: 'firing' }).map((a) => a.id)).toEqual(['demo.battery-low.battery-1']);
    await h.feed(reading('battery-1', T0 + 10 * MIN, { battery_soc: 9 }));
    await h.tick();
    expect(h.published).toHaveLength(1); // no duplicate
    h.clock.advance(51 * MIN);
    await h.tick();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'renotify']);
  });

  it('restart while a windowed alert fires: windows come back from storage, the alert neither resolves nor refires', async () => {
    // Scenario: 3 days of falling aquifer levels, stored in the embedded store and fed to the engine;
    // depletion fires; restart with the store: the rebuilt window keeps the verdict; new readings too.
    const dataDir = mkdtempSync(join(tmpdir(), 'steward-rules-store-'));
    const store = createEmbeddedStore({ dataDir, logger: silentLogger, retentionDays: 0 });
    await store.start();
    cleanup.push(async () => {
      await store.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const readings = falling(3);
    await store.write(readings);
    h = await harness(AQUIFER, { store });
    await h.feed(...readings);
    await h.tick();
    expect(h.messages('aquifer-depletion').map((m) => m.event)).toEqual(['firing']);
    await h.engine.stop();
    await h.restart();
    await h.tick();
    const a = h.engine.get('demo.aquifer-depletion.well-1');
    expect(a?.state).toBe('firing');
    expect(Number(a?.facts.points)).toBe(73); // the whole window, from storage
    const more = Array.from({ length: 6 }, (_, k) => reading('well-1', T0 + (72 + k + 1) * HOUR, { groundwater_level: 50 - (72 + k + 1) / 48 }));
    await store.write(more);
    await h.feed(...more);
    await h.tick();
    expect(h.messages('aquifer-depletion').map((m) => m.event)).toEqual(['firing']);
  });

  it('hands the numbers of each scheduled evaluation to the dashboards, the same numbers the alert quotes', async () => {
    // Scenario: well-1 falls 0.5 m a day and fires; well-2 holds steady (never reaches the floor).
    const points: EvaluationPoint[] = [];
    h = await harness(AQUIFER, { evaluations: (p) => void points.push(...p) });
    const steady = Array.from({ length: 3 * 24 + 1 }, (_, hour) => reading('well-2', T0 + hour * HOUR, { groundwater_level: 45 }));
    await h.feed(...falling(3), ...steady);
    await h.tick();
    const a = h.engine.get('demo.aquifer-depletion.well-1')!;
    expect(a.state).toBe('firing');
    const one = points.find((p) => p.subject === 'well-1')!;
    expect(one).toMatchObject({ hub: 'demo', rule: 'aquifer-depletion', kind: 'depletion', ts: T0 + 3 * DAY });
    expect(one.fields.daysToFloor).toBe(a.facts.daysToFloor);
    expect(one.fields.ratePerDay).toBe(a.facts.ratePerDay);
    expect(one.fields.level).toBe(a.facts.level);
    expect(one.fields.value).toBe(a.value);
    // Not falling: "never" is -1, and no days to the floor.
    const two = points.find((p) => p.subject === 'well-2')!;
    expect(two.fields.value).toBe(-1);
    expect(two.fields.daysToFloor).toBeUndefined();
    expect(Object.values(two.fields).every(Number.isFinite)).toBe(true);
  });

  it('restart: a 90-day window on a store keeping 30 days of readings comes back from the hourly aggregates', async () => {
    // Scenario: soil carbon falling 1 %-point a year, a reading every 6 hours for 90 days; the store
    // keeps 30 days of raw readings, so the window's first 60 days must come from the aggregates.
    const SOIL = ruleFile('soil-carbon-decline', 'rate', { select: '{ metric: soil_organic_carbon }', window: '90d', minSpan: '60d', per: '1y', below: -0.5 });
    const end = T0 + 90 * DAY;
    const dataDir = mkdtempSync(join(tmpdir(), 'steward-rules-years-'));
    const store = createEmbeddedStore({ dataDir, logger: silentLogger, retentionDays: 30, clock: { now: () => end } });
    await store.start();
    cleanup.push(async () => {
      await store.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const readings = Array.from({ length: 90 * 4 + 1 }, (_, k) => reading('soil-1', T0 + k * 6 * HOUR, { soil_organic_carbon: 4 - (k * 6 * HOUR) / (365 * DAY) }));
    await store.write(readings);
    await store.prune();
    expect(await store.range({ sensor: 'soil-1', metric: 'soil_organic_carbon', from: T0, to: end + 1 })).toHaveLength(30 * 4 + 1);
    h = await harness(SOIL, { store });
    h.clock.set(end);
    await h.tick();
    const a = h.engine.get('demo.soil-carbon-decline.soil-1');
    expect(a?.state).toBe('firing');
    expect(Number(a?.facts.rate)).toBeCloseTo(-1, 2);
    expect(Number(a?.facts.points)).toBe(90 * 4 + 1); // 240 hourly buckets (one reading each) + 121 raw readings
  });

  it('a diversity window and its baseline come back from the daily species counts when the rules state has none', async () => {
    // Scenario: two weeks of detections at the mire are in storage only (a new rules state, e.g. the
    // rule was just added): 8 species a day in the first week, 3 in the second, each afternoon.
    const RICHNESS = `
rules:
  - id: richness-decline
    kind: diversity
    select: { domain: biodiversity }
    aggregate: { by: site }
    window: 7d
    dropBy: 30
`;
    const dataDir = mkdtempSync(join(tmpdir(), 'steward-rules-species-'));
    const store = createEmbeddedStore({ dataDir, logger: silentLogger, retentionDays: 0 });
    await store.start();
    cleanup.push(async () => {
      await store.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const start = T0 - 14 * DAY;
    const readings = Array.from({ length: 14 }, (_, d) =>
      Array.from({ length: d < 7 ? 8 : 3 }, (_, k) => reading('mic-1', start + d * DAY + (13 + k) * HOUR, { count: 2 }, { domain: 'biodiversity', site: 'mire', species: `Species ${k}` })),
    ).flat();
    await store.write(readings);
    h = await harness(RICHNESS, { store });
    await h.tick();
    const a = h.engine.get('demo.richness-decline.mire');
    expect(a?.state).toBe('firing');
    expect(a?.facts).toMatchObject({ current: 3, baseline: 8, currentIndividuals: 42, baselineIndividuals: 112 });
  });

  it('restart with no storage: a windowed alert without data keeps firing (no verdict is not "resolved")', async () => {
    // Scenario: depletion fires; restart without a store; the schedule runs on empty windows.
    h = await harness(AQUIFER);
    await h.feed(...falling(3));
    await h.tick();
    await h.engine.stop();
    await h.restart();
    await h.tick();
    await h.tick();
    expect(h.engine.get('demo.aquifer-depletion.well-1')?.state).toBe('firing');
    expect(h.published.filter((p) => p.alert?.event === 'resolved' || p.alert === null)).toHaveLength(0);
  });

  it('late and out-of-order readings land in order; readings older than the window are ignored, and the log says so', async () => {
    // Scenario: the 3-day aquifer series delivered newest-first; then a reading stamped 5 days ago.
    const metrics = createMetrics();
    const lines: Array<{ msg: string; series?: string; ignored?: number }> = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    h = await harness(AQUIFER, { metrics, logger });
    for (const r of falling(3).reverse()) h.engine.onReadings([r]);
    await h.tick();
    const a = h.engine.get('demo.aquifer-depletion.well-1');
    expect(Number(a?.facts.ratePerDay)).toBeCloseTo(-0.5, 9);
    expect(a?.facts.points).toBe(73);
    await h.feed(reading('well-1', T0 - 2 * DAY, { groundwater_level: 10 }));
    await h.tick();
    expect(Number(h.engine.get('demo.aquifer-depletion.well-1')?.facts.ratePerDay)).toBeCloseTo(-0.5, 9);
    expect(await metrics.registry.getSingleMetricAsString('steward_rules_readings_ignored_total')).toContain('reason="too_old"} 1');
    const ignored = lines.filter((l) => l.msg.startsWith('ignoring readings older than'));
    expect(ignored).toHaveLength(1);
    expect(ignored[0]).toMatchObject({ series: 'demo/well-1/groundwater_level', ignored: 1 });
  });

  it('silence: a firing alert is held back until the silence ends, then notified once', async () => {
    // Scenario: steward silences battery-low for 2 h; the battery drops; after 2 h housekeeping notifies.
    h = await harness(BATTERY);
    const s = h.engine.addSilence({ matchers: { rule: 'battery-*', hub: 'demo' }, createdBy: 'ana', comment: 'replacing the battery', durationMs: 2 * HOUR });
    expect(s.status).toBe('active');
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    expect(h.published).toHaveLength(0);
    expect(h.engine.get('demo.battery-low.battery-1')).toMatchObject({ state: 'firing', silencedBy: [s.id] });
    h.clock.advance(HOUR);
    await h.tick();
    expect(h.published).toHaveLength(0);
    h.clock.advance(HOUR);
    await h.tick();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing']);
    expect(h.engine.silences({ status: 'expired' }).map((x) => x.id)).toEqual([s.id]);
    expect(h.engine.get('demo.battery-low.battery-1')?.history.some((e) => e.event === 'silenced' && e.by === 'ana')).toBe(false); // silenced before it fired
  });

  it('expiring a silence early releases the alert at the next housekeeping', async () => {
    // Scenario: silence for a day, battery fires, steward removes the silence after 10 minutes.
    h = await harness(BATTERY);
    const s = h.engine.addSilence({ matchers: { severity: 'warning' }, createdBy: 'ana', comment: 'maintenance', durationMs: DAY });
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.clock.advance(10 * MIN);
    expect(h.engine.expireSilence(s.id, 'ben')).toMatchObject({ status: 'expired', expiredBy: 'ben' });
    await h.tick();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing']);
  });

  it('ack: re-notification stops; the retained state shows who acknowledged', async () => {
    // Scenario: battery fires at 00:00, re-notified at 01:00, acknowledged at 01:10, nothing more by 05:00.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.clock.set(T0 + HOUR);
    await h.tick();
    h.clock.set(T0 + HOUR + 10 * MIN);
    const acked = h.engine.ack('demo.battery-low.battery-1', 'ana', 'generator on its way');
    expect(acked.acknowledged).toEqual({ by: 'ana', at: new Date(T0 + 70 * MIN).toISOString(), comment: 'generator on its way' });
    await h.engine.idle();
    for (let k = 2; k <= 5; k++) {
      h.clock.set(T0 + k * HOUR);
      await h.tick();
    }
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'renotify', 'update']);
    const update = h.published.at(-1);
    expect(update).toMatchObject({ topic: 'csm/v1/demo/alerts/battery-low/battery-1', retain: true });
    expect(update?.alert?.acknowledged?.by).toBe('ana');
    expect(() => h.engine.ack('demo.nope.x', 'ana')).toThrow(/no alert/);
  });

  it('a new episode clears the acknowledgement', async () => {
    // Scenario: fire, ack, resolve (26 %), fire again 5 hours later (past the 4-hour re-notification
    // interval): a new episode, unacknowledged, re-notified after 4 hours.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.engine.ack('demo.battery-low.battery-1', 'ana');
    await h.feed(reading('battery-1', T0 + MIN, { battery_soc: 26 }));
    expect(() => h.engine.ack('demo.battery-low.battery-1', 'ana')).toThrow(/resolved/);
    h.clock.advance(5 * HOUR);
    await h.feed(reading('battery-1', T0 + 5 * HOUR, { battery_soc: 10 }));
    expect(h.engine.get('demo.battery-low.battery-1')).toMatchObject({ episode: 2, acknowledged: null });
    h.clock.advance(4 * HOUR);
    await h.tick();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'update', 'resolved', 'firing', 'renotify']);
  });

  it('an acknowledgement lasts for the episode: a quick resolve and refire reopens it, still acknowledged', async () => {
    // Scenario: fire, ack, resolve (26 %), fire again 2 minutes later: the same episode, still
    // acknowledged by ana; hub members hear that it fires again, but nobody is re-notified.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.engine.ack('demo.battery-low.battery-1', 'ana');
    await h.feed(reading('battery-1', T0 + MIN, { battery_soc: 26 }));
    await h.feed(reading('battery-1', T0 + 2 * MIN, { battery_soc: 10 }));
    const a = h.engine.get('demo.battery-low.battery-1');
    expect(a).toMatchObject({ state: 'firing', episode: 1, acknowledged: { by: 'ana' }, resolvedAt: null });
    h.clock.advance(5 * HOUR);
    await h.tick();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'update', 'resolved', 'firing']);
    expect(h.messages('battery-low').at(-1)?.acknowledged).toMatchObject({ by: 'ana' });
  });

  it('reload keeps alert state; a broken file is rejected with a precise error and the old rules stay active', async () => {
    // Scenario: battery-low fires; the limit is edited to 15 (still firing, no duplicate); then the file
    // is broken (window: 7days on a new rule): rejected, battery-low still evaluates with limit 15.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.writeRules(BATTERY.replace('below: 20', 'below: 15'));
    const ok = await h.engine.reload();
    expect(ok.ok).toBe(true);
    expect(h.engine.get('demo.battery-low.battery-1')?.state).toBe('firing');
    await h.feed(reading('battery-1', T0 + MIN, { battery_soc: 12 }));
    expect(h.published).toHaveLength(1);
    h.writeRules(`${BATTERY.replace('below: 20', 'below: 15')}
  - id: aquifer-depletion
    kind: depletion
    select: { metric: groundwater_level }
    window: 7days
    floor: 35
    horizon: 30d
`);
    const bad = await h.engine.reload();
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors.map((e) => `${e.rule}: ${e.field}: ${e.message} (line ${e.line})`)).toEqual(['aquifer-depletion: window: must be a duration like 7d (line 13)']);
    expect(h.engine.rules().map((r) => r.id)).toEqual(['battery-low']);
    await h.feed(reading('battery-1', T0 + 2 * MIN, { battery_soc: 21 })); // 21 ≥ 15 + 5: resolves under the kept rules
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'resolved']);
  });

  it('reload from the file watcher: an edited file applies without a call', async () => {
    // Scenario: the engine watches its directory; the limit is raised from 20 to 50 on disk.
    h = await harness(BATTERY, { watch: true, watchDebounceMs: 50 });
    await h.feed(reading('battery-1', T0, { battery_soc: 40 }));
    expect(h.published).toHaveLength(0);
    h.writeRules(BATTERY.replace('below: 20', 'below: 50'));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !h.engine.rules().length) await new Promise((r) => setTimeout(r, 20));
    for (;;) {
      await h.feed(reading('battery-1', T0 + MIN, { battery_soc: 40 }));
      if (h.published.length || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing']);
  });

  it('a removed rule resolves its alerts and clears their retained topics', async () => {
    // Scenario: battery-low fires; the rule file is emptied and reloaded.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.writeRules('rules: []\n');
    await h.engine.reload();
    await h.engine.idle();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing', 'resolved']);
    expect(h.messages('battery-low')[1]?.message).toMatch(/^Resolved: Rule "battery-low" was removed or disabled; battery charge/);
    expect(h.published.at(-1)).toMatchObject({ topic: 'csm/v1/demo/alerts/battery-low/battery-1', alert: null, retain: true });
  });

  it('broker down: the firing notification is retried with backoff and delivered once the broker is back', async () => {
    // Scenario: publishes fail while the alert fires; retries run out; the broker returns; housekeeping delivers.
    h = await harness(BATTERY, {});
    h.brokerDown = true;
    h.engine.onReadings([reading('battery-1', T0, { battery_soc: 10 })]);
    await h.engine.stop(); // stops retrying; the delivery stays outstanding in the state
    h.brokerDown = false;
    await h.restart();
    expect(h.messages('battery-low').map((m) => m.event)).toEqual(['firing']);
    await h.tick();
    expect(h.messages('battery-low')).toHaveLength(1);
  });

  it('alerts() filters by state, hub, severity; firing first', async () => {
    // Scenario: two batteries, one firing, one resolved.
    h = await harness(BATTERY);
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }), reading('battery-2', T0, { battery_soc: 10 }), reading('battery-2', T0 + MIN, { battery_soc: 30 }));
    expect(h.engine.alerts().map((a) => `${a.subject}:${a.state}`)).toEqual(['battery-1:firing', 'battery-2:resolved']);
    expect(h.engine.alerts({ state: 'resolved' }).map((a) => a.subject)).toEqual(['battery-2']);
    expect(h.engine.alerts({ hub: 'other' })).toEqual([]);
    expect(h.engine.alerts({ severity: 'critical' })).toEqual([]);
  });

  it('the alert sink receives every transition and acknowledgement', async () => {
    // Scenario: fire, ack, resolve, with a sink recording events.
    const events: string[] = [];
    h = await harness(BATTERY, { sink: { write: async (es) => void events.push(...es.map((e) => `${e.event}:${e.from}->${e.to}`)) } });
    await h.feed(reading('battery-1', T0, { battery_soc: 10 }));
    h.engine.ack('demo.battery-low.battery-1', 'ana');
    await h.feed(reading('battery-1', T0 + MIN, { battery_soc: 30 }));
    await h.engine.stop();
    expect(events).toEqual(['transition:inactive->firing', 'ack:firing->firing', 'transition:firing->resolved']);
  });

  it('init refuses an invalid rule set, naming every problem', async () => {
    // Scenario: a rule file with two mistakes.
    await expect(
      harness(`
rules:
  - id: a
    kind: threshold
    select: { metric: battery_sco }
    below: 20
  - id: b
    kind: thresold
`),
    ).rejects.toThrow(/rule "a": select.metric: unknown metric "battery_sco".*\n.*rule "b": kind: unknown kind "thresold"/);
  });
});
