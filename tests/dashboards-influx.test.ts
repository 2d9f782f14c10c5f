/**
 * Scenario: the demo hub's simulators run offline for five simulated days (the aquifer rule fits 3 days of 24-hour means) up to now; their readings
 * pass parsing, the privacy boundary and the real InfluxDB store into a real InfluxDB 1.6.7, next to
 * pipeline self-telemetry from the real telemetry writer and a few alert events. Then every query of
 * every dashboard (template variables, panel targets, annotations) runs as Grafana sends it, macros
 * and variables substituted as Grafana does, and must return data for the demo hub.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseConfig } from '../core/config.ts';
import { parsePayload } from '../core/parse.ts';
import { ALERTS_SCHEMA } from '../dashboards/lib/alerts-schema.ts';
import { ALL_VALUE, type VariableState, calculateIntervalMs, interpolateInfluxQL, parseRelativeTime } from '../dashboards/lib/grafana.ts';
import { type DashboardQuery, dashboardQueries, queryVariables } from '../dashboards/lib/walk.ts';
import { JSON_DIR } from '../dashboards/src/build.ts';
import { AQUIFER_RULE } from '../dashboards/src/limits.ts';
import { DEFAULT_RULES_DIR } from '../rules/check.ts';
import { createRulesEngine } from '../rules/engine.ts';
import { ManualScheduler } from '../rules/scheduler.ts';
import { type PrivacyBoundary, createPrivacyBoundary } from '../egress/index.ts';
import { DEFAULT_POLICY_PATH, fixedPolicy } from '../privacy/index.ts';
import { policyFromYaml } from '../privacy/testing.ts';
import { type FleetEntry, demoFleet, fleetEntry } from '../simulators/fleet.ts';
import { generate } from '../simulators/runner.ts';
import { type InfluxStore, createInfluxStore } from '../storage/influx.ts';
import type { AlertPoint, StoredReading } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { createTelemetryWriter } from '../telemetry/writer.ts';
import { type InfluxHandle, startInfluxDB } from './harness/services.ts';

const HUB = 'demo';
const DAY = 86_400_000;
/** The data source's min interval, from the provisioned data source (`jsonData.timeInterval`). */
const DATASOURCE_MIN_INTERVAL = String(
  (
    (parseYaml(readFileSync(new URL('../dashboards/provisioning/datasources/steward.yaml', import.meta.url), 'utf8')) as { datasources: Array<{ jsonData: { timeInterval: string } }> })
      .datasources[0] as { jsonData: { timeInterval: string } }
  ).jsonData.timeInterval,
);

type Dashboard = Record<string, unknown>;

let influx: InfluxHandle;
let store: InfluxStore;
let now: number;
const stats = { readings: 0, stored: 0, withheld: 0, householdGroups: 0 };

/**
 * The demo fleet, plus six more homes in the north area: the demo's two homes per area never make
 * a publishable household group, and the household panel must be proven against one.
 */
function fleet(): FleetEntry[] {
  const extra = [1, 2, 3, 4, 5, 6].map((i) => fleetEntry(`meter-n${i}`, 'household-meter', 'north', { householdId: `hh-900${i}`, area: 'north' }));
  return [...demoFleet(HUB), ...extra];
}

/**
 * The shipped privacy policy with the household rule relaxed to 3 homes and a 50% share (the
 * smallest group and largest share the policy schema allows), so the test fleet's north area
 * publishes aggregates. Everything else is the default policy.
 */
function testPolicyBoundary(): PrivacyBoundary {
  const doc = parseYaml(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { households: Record<string, unknown> };
  doc.households.minHouseholds = 3;
  doc.households.maxShare = 0.5;
  return createPrivacyBoundary({ policy: fixedPolicy(policyFromYaml(stringifyYaml(doc))), clock: { now: () => now } });
}

/**
 * Writes the hub's readings for [now - 5 d, now] the way ingest does: parse, privacy boundary
 * (household loads only as published area groups), InfluxDB store.
 */
async function writeDemoReadings(): Promise<void> {
  const boundary = testPolicyBoundary();
  let batch: StoredReading[] = [];
  const flush = async (): Promise<void> => {
    const out = await store.write(batch);
    expect(out.rejected).toEqual([]);
    stats.stored += out.written;
    batch = [];
  };
  try {
    for (const m of generate(fleet(), 7, now - 5 * DAY, now)) {
      stats.readings++;
      const readings = parsePayload(Buffer.from(JSON.stringify(m.payload)), { hub: m.hub, domain: m.domain, sensor: m.sensor, kind: m.kind, ...(m.payload.site ? { site: m.payload.site } : {}), now });
      for (const r of readings) {
        const s = boundary.apply(r);
        if (s) batch.push(s);
        else stats.withheld++;
      }
      if (batch.length >= 5000) await flush();
    }
    // Household groups whose windows have closed, as ingest drains them.
    for (let groups = boundary.drain(now + DAY); groups.length; groups = boundary.drain(now + DAY)) {
      batch.push(...groups);
      stats.householdGroups += groups.length;
      await flush();
      boundary.ack(groups);
    }
    if (batch.length) await flush();
  } finally {
    boundary.stop();
  }
}

/** Self-telemetry of an ingest process over the last hour, written by the real telemetry writer every minute. */
async function writePipelineTelemetry(): Promise<void> {
  const metrics = createMetrics();
  let t = now - 60 * 60_000;
  const writer = createTelemetryWriter({ metrics, store, role: 'ingest', hub: HUB, clock: { now: () => t } });
  for (let i = 0; i <= 60; i++, t += 60_000) {
    metrics.readingsAccepted.inc({ hub: HUB, domain: 'water' }, 600 + (i % 7) * 10);
    metrics.readingsStored.inc({ store: 'influxdb-v1' }, 600 + (i % 7) * 10);
    if (i % 5 === 0) metrics.readingsRejected.inc({ code: 'schema' });
    if (i % 9 === 0) metrics.readingsRejected.inc({ code: 'out_of_range' }, 2);
    metrics.spoolDepth.set(i % 4);
    metrics.connectedClients.set(20);
    metrics.storageWriteSeconds.observe({ store: 'influxdb-v1', outcome: 'ok' }, 0.004 + (i % 3) / 1000);
    metrics.endToEndSeconds.observe(0.05);
    await writer.flush();
  }
}

/**
 * Alert transitions written through the store's alerts path (the one the rules engine's sink
 * uses): a depletion alert firing, a battery alert that fired and resolved, and Shannon-index
 * evaluations of a diversity rule per site.
 */
async function writeAlerts(): Promise<void> {
  const p = (ts: number, tags: { hub: string; rule: string; subject: string; severity: string; kind: string }, state: string, value: number, message: string): AlertPoint => ({ ts, ...tags, state, value, message });
  const points = [
    p(now - 5 * 3_600_000, { hub: HUB, rule: 'aquifer-depletion', subject: 'well-1', severity: 'critical', kind: 'depletion' }, 'firing', 12, 'Aquifer at well-1 reaches its safe minimum in 12 days'),
    p(now - 9 * 3_600_000, { hub: HUB, rule: 'battery-low', subject: 'battery-1', severity: 'warning', kind: 'threshold' }, 'firing', 18, 'Battery at 18%'),
    p(now - 8 * 3_600_000, { hub: HUB, rule: 'battery-low', subject: 'battery-1', severity: 'warning', kind: 'threshold' }, 'resolved', 35, 'Battery back at 35%'),
  ];
  for (let d = 0; d < 3; d++) {
    for (const [site, h] of [['oakwood', 2.9], ['mire', 2.4]] as const) {
      points.push(p(now - d * DAY - 3_600_000, { hub: HUB, rule: 'bird-shannon-decline', subject: site, severity: 'warning', kind: 'diversity' }, 'inactive', h - d * 0.05, `Shannon diversity at ${site}: H = ${h}`));
    }
  }
  await store.writeAlerts(points);
  const stored = await influx.queryRows(`SELECT count("message") AS n FROM "${ALERTS_SCHEMA.measurement}"`);
  expect(Number(stored[0]?.n)).toBe(points.length);
}

/**
 * The real rules engine (the shipped demo rules) on the stored readings, at `now`: its windows come
 * back from InfluxDB as after a restart, one scheduled evaluation runs, and its numbers go to the
 * store's `rule_evaluations` the way `steward rules` sends them.
 */
async function writeRuleEvaluations(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'steward-dash-rules-'));
  const writes: Array<Promise<void>> = [];
  const engine = createRulesEngine({
    rulesDir: DEFAULT_RULES_DIR,
    stateDir,
    logger: silentLogger,
    store,
    clock: { now: () => now },
    scheduler: new ManualScheduler(),
    watch: false,
    evaluations: (points) => void writes.push(store.writeEvaluations(points)),
  });
  try {
    await engine.init();
    engine.evaluate();
    await Promise.all(writes);
  } finally {
    await engine.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  const rows = await influx.queryRows(`SELECT count("value") AS n FROM "rule_evaluations" WHERE "rule" = '${AQUIFER_RULE}'`);
  expect(Number(rows[0]?.n)).toBeGreaterThan(0);
}

/** Rows of a query answer, for assertions. */
async function run(q: string): Promise<Array<{ tags: Record<string, string>; columns: string[]; values: unknown[][] }>> {
  const body = await influx.query(q);
  if (body.error) throw new Error(`${body.error}\n  in: ${q}`);
  const out: Array<{ tags: Record<string, string>; columns: string[]; values: unknown[][] }> = [];
  for (const r of body.results ?? []) {
    if (r.error) throw new Error(`${r.error}\n  in: ${q}`);
    for (const s of r.series ?? []) out.push({ tags: s.tags ?? {}, columns: s.columns, values: s.values ?? [] });
  }
  return out;
}

/** True when some row has a non-null value in a column other than `time`. */
function hasData(series: Awaited<ReturnType<typeof run>>): boolean {
  return series.some((s) => s.values.some((row) => row.some((v, i) => s.columns[i] !== 'time' && v !== null)));
}

/** Values a `SHOW TAG VALUES` answer offers. */
function tagValues(series: Awaited<ReturnType<typeof run>>): string[] {
  const vals = new Set<string>();
  for (const s of series) {
    const i = s.columns.indexOf('value');
    for (const row of s.values) vals.add(String(row[i]));
  }
  return [...vals].sort();
}

/** The variable states Grafana would hold: the demo hub selected, every other variable at its saved default (All). */
async function resolveVariables(d: Dashboard, selection: Record<string, string | string[]> = {}): Promise<VariableState[]> {
  const states: VariableState[] = [];
  const list = ((d.templating as { list?: Array<Record<string, unknown>> } | undefined)?.list ?? []) as Array<Record<string, unknown>>;
  const time = d.time as { from: string; to: string };
  const from = parseRelativeTime(time.from, now);
  for (const v of list) {
    const name = String(v.name);
    if (v.type === 'query') {
      const q = interpolateInfluxQL(String(v.query), { from, to: now, intervalMs: 60_000, variables: states });
      const options = tagValues(await run(q));
      const current = selection[name] ?? (name === 'hub' ? HUB : ALL_VALUE);
      const s: VariableState = { name, current, options };
      if (typeof v.allValue === 'string') s.allValue = v.allValue;
      states.push(s);
    } else if (v.type === 'constant' || v.type === 'textbox') {
      states.push({ name, current: String((v.current as { value: string }).value) });
    }
  }
  return states;
}

/**
 * A query as Grafana sends it: panel time override, interval from the panel width, variables and
 * macros substituted; `$timeFilter` as the backend writes it (absolute ms), or with `browser` as
 * the browser-side data source does (`now() - 7d`).
 */
function materialise(d: Dashboard, q: DashboardQuery, variables: VariableState[], browser = false): string {
  const time = d.time as { from: string; to: string };
  const raw = q.timeFrom ? { from: `now-${q.timeFrom}`, to: 'now' } : time;
  const from = parseRelativeTime(raw.from, now);
  const to = parseRelativeTime(raw.to, now);
  const intervalMs = calculateIntervalMs(from, to, q.maxDataPoints ?? 1000, q.minInterval ?? DATASOURCE_MIN_INTERVAL);
  return interpolateInfluxQL(q.query, { from, to, intervalMs, variables, ...(browser ? { raw } : {}) });
}

/** The dashboard files Grafana provisions. */
const dashboards: Record<string, Dashboard> = Object.fromEntries(
  readdirSync(JSON_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(readFileSync(join(JSON_DIR, f), 'utf8')) as Dashboard]),
);

beforeAll(async () => {
  now = Date.now();
  influx = await startInfluxDB({ database: 'steward' });
  const cfg = parseConfig({ storage: { influx: { url: influx.url, database: influx.database } } }).storage.influx;
  if (!cfg) throw new Error('config without storage.influx');
  store = createInfluxStore(cfg, { logger: silentLogger });
  await store.start();
  await writeDemoReadings();
  await writePipelineTelemetry();
  await writeAlerts();
  await writeRuleEvaluations();
});

afterAll(async () => {
  await store?.stop();
  await influx?.stop();
});

describe('data written the way ingest writes it', () => {
  it('stores the demo fleet through the privacy boundary, households only as area groups', async () => {
    expect(stats.stored).toBeGreaterThan(5_000);
    // Household meters' load is personal: never stored by itself, only in published area groups.
    expect(stats.withheld).toBeGreaterThan(0);
    expect(stats.householdGroups).toBeGreaterThan(0);
    expect(await run('SELECT count("household_power") FROM "energy"')).toEqual([]);
  });
});

describe.each(Object.entries(dashboards))('%s', (file, d) => {
  const queries = dashboardQueries(d);
  let variables: VariableState[];

  beforeAll(async () => {
    variables = await resolveVariables(d);
  });

  it('offers the demo hub and its sites and sensors in its variables', () => {
    for (const v of queryVariables(d)) {
      const s = variables.find((x) => x.name === v.name);
      expect(s?.options?.length, `variable ${String(v.name)} of ${file} has no values`).toBeGreaterThan(0);
    }
    expect(variables.find((v) => v.name === 'hub')?.options).toContain(HUB);
  });

  const panelQueries = queries.filter((q) => q.kind !== 'variable');
  it.each(panelQueries.map((q) => [`${q.kind} "${q.where}"${q.refId ? ` ${q.refId}` : ''}`, q] as const))('%s returns data for the demo hub', async (_label, q) => {
    const text = materialise(d, q, variables);
    expect(text).not.toMatch(/\$\w|\[\[/);
    const series = await run(text);
    expect(hasData(series), `no data from:\n${text}`).toBe(true);
    // The same with the relative time filter of the browser-side data source.
    expect(hasData(await run(materialise(d, q, variables, true))), 'no data with the relative $timeFilter').toBe(true);
    if (q.kind === 'annotation') {
      // Grafana builds each annotation from the columns the annotation names.
      const target = ((d.annotations as { list: Array<{ name: string; target?: Record<string, string> }> }).list.find((a) => a.name === q.where)?.target ?? {}) as Record<string, string>;
      const wanted = [target.textColumn, ...(target.tagsColumn ?? '').split(',')].filter((c): c is string => !!c);
      for (const c of wanted) expect(series[0]?.columns, `annotation column ${c}`).toContain(c);
    }
  });
});

describe('template variables narrow the panels as Grafana formats them', () => {
  const d = dashboards['watershed.json'] as Dashboard;
  const aquifer = dashboardQueries(d).find((q) => q.where === 'Aquifer level against its safe minimum') as DashboardQuery;
  const sensorsIn = async (selection: Record<string, string | string[]>): Promise<string[]> => {
    const vars = await resolveVariables(d, selection);
    return (await run(materialise(d, aquifer, vars))).map((s) => s.tags.sensor ?? '').sort();
  };

  it('All (sent as /^.*$/) shows every well; one site shows only its wells; a site without wells shows none', async () => {
    expect(await sensorsIn({})).toEqual(['well-1', 'well-2']);
    expect(await sensorsIn({ site: 'wellfield' })).toEqual(['well-1', 'well-2']);
    expect(await sensorsIn({ site: 'beck-bridge' })).toEqual([]);
  });

  it('several values become a regex alternation (a|b)', async () => {
    expect(await sensorsIn({ site: 'wellfield', sensor: ['well-2', 'river-1'] })).toEqual(['well-2']);
  });

  it('another hub sees nothing of the demo hub', async () => {
    expect(await sensorsIn({ hub: 'elsewhere' })).toEqual([]);
  });
});
