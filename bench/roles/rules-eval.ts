/**
 * Bench role of the rules benchmark: evaluation throughput, in-process (no MQTT, no ingest). One
 * rules engine (`createRulesEngine`, as cli/rules-role.ts builds it, without store or sink) loaded
 * with a generated rule set, fed readings through `onReadings` one reading per call (`--batch 1`,
 * the worst case: one MQTT message per call; ingest's group commit now hands over the readings of
 * several messages at once), then every windowed and deadman rule evaluated at once with
 * `evaluate()` (what the cron schedules do).
 *
 *   node --import tsx bench/roles/rules-eval.ts --dir DIR --set generated|none|demo \
 *     [--rules 1000] [--sensors 400] [--readings 200000] [--evaluations 5] [--batch 1]
 *
 * The fleet: hub `fleet`, `--sensors` sensors in sites of ten (per site: 2 wells, 2 river gauges,
 * 2 soil stations, 2 energy meters, 2 acoustic monitors), registered in a real registry (the
 * engine's `sensors` lists it, as in production). Readings: one per sensor per simulated minute,
 * quiet values with daily-ish cycles (sensor time starts `readings / sensors` minutes ago).
 *
 * Sets: `generated` (a YAML file of `--rules` rules, see {@link generateRules}), `none` (an empty
 * rule file: the engine's fixed cost per reading), `demo` (rules/defaults/demo.yaml, whose
 * `hub: demo` matches none of the fleet: the cost of a small rule set that selects nothing).
 *
 * Emits `{"type":"result",…}` then waits for `stop` (or stdin closing).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Histogram } from 'prom-client';
import type { Domain } from '../../core/ids.ts';
import type { Reading } from '../../core/reading.ts';
import { Registry } from '../../registry/registry.ts';
import { DEFAULT_RULES_DIR } from '../../rules/check.ts';
import { createRulesEngine } from '../../rules/engine.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { emit, need, roleArgs, roleLogger, serve } from '../lib/role.ts';

const args = roleArgs();
const dir = need(args, 'dir');
const set = need(args, 'set');
const RULES = Number(args.rules ?? 1000);
const SENSORS = Number(args.sensors ?? 400);
const READINGS = Number(args.readings ?? 200_000);
const EVALUATIONS = Number(args.evaluations ?? 5);
const BATCH = Math.max(1, Number(args.batch ?? 1));
const HUB = 'fleet';
const MINUTE = 60_000;

/** Sensor `i` of the eval fleet. */
function sensorOf(i: number): { sensor: string; site: string; domain: Domain; role: 'well' | 'gauge' | 'soil' | 'energy' | 'bio' } {
  const role = (['well', 'gauge', 'soil', 'energy', 'bio'] as const)[i % 5]!;
  const domain: Domain = role === 'well' || role === 'gauge' ? 'water' : role === 'soil' ? 'soil' : role === 'energy' ? 'energy' : 'biodiversity';
  return { sensor: `${role}-${String(i).padStart(4, '0')}`, site: `site-${String(Math.floor(i / 10)).padStart(3, '0')}`, domain, role };
}

/**
 * `n` rules over the fleet, each selecting one sensor, a few sensors or one site (as a hub with
 * many sensors would write them), in these shares: threshold 40 % (per sensor, and site means and
 * minima), rate 15 %, depletion 15 %, balance 10 % (water and energy, per site), deadman 10 %
 * (per site and per group of sensors), diversity 10 % (richness and Shannon per site, richness per
 * monitor). Windows of 2 to 6 hours, so `--readings` fills them.
 */
export function generateRules(n: number, sensors: number): string {
  const all = Array.from({ length: sensors }, (_, i) => sensorOf(i));
  const by = (role: string): ReturnType<typeof sensorOf>[] => all.filter((s) => s.role === role);
  const sites = [...new Set(all.map((s) => s.site))];
  const pick = <T>(list: T[], k: number): T => list[k % list.length]!;
  const quota = (share: number): number => Math.round(n * share);
  const out: string[] = [`hub: ${HUB}`, 'defaults:', '  renotify: 4h', 'rules:'];
  let id = 0;
  const rule = (lines: string[]): void => {
    out.push(`  - id: r${String(id++).padStart(4, '0')}`, ...lines.map((l) => `    ${l}`));
  };
  // threshold: 40 %
  const nonBio = all.filter((s) => s.role !== 'bio');
  for (let k = 0; k < quota(0.4); k++) {
    if (k < nonBio.length) {
      const s = nonBio[k]!;
      const sel = `select: { sensor: ${s.sensor}, metric: %M }`;
      if (s.role === 'well') rule(['kind: threshold', sel.replace('%M', 'groundwater_level'), 'below: 30', 'hysteresis: 0.5']);
      else if (s.role === 'gauge') rule(['kind: threshold', sel.replace('%M', 'river_stage'), 'below: 0.2', 'hysteresis: 0.03', 'for: 30m']);
      else if (s.role === 'soil') rule(['kind: threshold', sel.replace('%M', 'soil_moisture'), 'below: 0.15', 'hysteresis: 0.02']);
      else rule(['kind: threshold', sel.replace('%M', 'battery_soc'), 'below: 15', 'hysteresis: 5']);
    } else if (k % 2 === 0) rule(['kind: threshold', `select: { site: ${pick(sites, k)}, metric: soil_moisture }`, 'aggregate: { fn: mean, by: site }', 'below: 0.18']);
    else rule(['kind: threshold', `select: { site: ${pick(sites, k)}, metric: battery_soc }`, 'aggregate: { fn: min, by: site }', 'below: 10', 'hysteresis: 5']);
  }
  // rate: 15 %
  for (let k = 0; k < quota(0.15); k++) {
    if (k % 2 === 0) rule(['kind: rate', `select: { sensor: ${pick(by('well'), k >> 1).sensor}, metric: groundwater_level }`, 'window: 6h', 'per: 1d', 'below: -0.5']);
    else rule(['kind: rate', `select: { sensor: ${pick(by('soil'), k >> 1).sensor}, metric: soil_organic_carbon }`, 'window: 6h', 'per: 1d', 'below: -0.2']);
  }
  // depletion: 15 %
  for (let k = 0; k < quota(0.15); k++) {
    if (k % 2 === 0) rule(['kind: depletion', `select: { sensor: ${pick(by('well'), k >> 1).sensor}, metric: groundwater_level }`, 'window: 6h', 'floor: 30', 'horizon: 30d', 'minPoints: 10']);
    else rule(['kind: depletion', `select: { sensor: ${pick(by('energy'), k >> 1).sensor}, metric: battery_soc }`, 'window: 2h', 'floor: 5', 'horizon: 2h', 'hysteresis: 1h']);
  }
  // balance: 10 %
  for (let k = 0; k < quota(0.1); k++) {
    const site = pick(sites, k >> 1);
    if (k % 2 === 0) rule(['kind: balance', `select: { domain: water, site: ${site} }`, 'aggregate: { by: site }', 'window: 6h', 'extraction: { metric: withdrawal, over: sum }', 'regeneration: { metric: rainfall, over: sum, scale: 450 }', 'unit: m3', 'exceedBy: 50']);
    else rule(['kind: balance', `select: { domain: energy, site: ${site} }`, 'aggregate: { by: site }', 'window: 3h', 'extraction: { metric: demand_power, over: mean }', 'regeneration: { metrics: [pv_power], over: mean }', 'unit: W', 'exceedBy: 200']);
  }
  // deadman: 10 %
  for (let k = 0; k < quota(0.1); k++) {
    if (k % 2 === 0) rule(['kind: deadman', `select: { site: ${pick(sites, k >> 1)} }`, 'aggregate: { by: site }', 'after: 30m']);
    else {
      const group = Array.from({ length: 5 }, (_, j) => pick(nonBio, (k >> 1) * 5 + j).sensor);
      rule(['kind: deadman', `select: { sensor: [${group.join(', ')}] }`, 'after: 15m', 'missed: 3']);
    }
  }
  // diversity: the rest (10 %)
  for (let k = 0; id < n; k++) {
    if (k % 3 === 0) rule(['kind: diversity', `select: { domain: biodiversity, site: ${pick(sites, k)} }`, 'aggregate: { by: site }', 'index: richness', 'window: 2h', 'dropBy: 35', 'minDetections: 20']);
    else if (k % 3 === 1) rule(['kind: diversity', `select: { domain: biodiversity, site: ${pick(sites, k)} }`, 'aggregate: { by: site }', 'index: shannon', 'window: 2h', 'dropBy: 20', 'minDetections: 20']);
    else rule(['kind: diversity', `select: { domain: biodiversity, sensor: ${pick(by('bio'), k).sensor} }`, 'index: richness', 'window: 3h', 'dropBy: 35', 'minDetections: 10']);
  }
  return `${out.join('\n')}\n`;
}

const SPECIES = ['Erithacus rubecula', 'Turdus merula', 'Parus major', 'Cyanistes caeruleus', 'Fringilla coelebs', 'Troglodytes troglodytes', 'Sylvia atricapilla', 'Phylloscopus collybita', 'Columba palumbus', 'Dendrocopos major', 'Sitta europaea', 'Certhia familiaris'];

/** Reading of sensor `i` in round `r` (one round per simulated minute). */
function readingOf(i: number, r: number, t0: number): Reading {
  const s = sensorOf(i);
  const ts = t0 + r * MINUTE + i; // sensors a millisecond apart within a round
  const wave = Math.sin((r + i) / 60);
  const base = { hub: HUB, domain: s.domain, sensor: s.sensor, site: s.site, kind: s.role, ts, seq: r };
  switch (s.role) {
    case 'well':
      return { ...base, metrics: { groundwater_level: 45 - r / 7200 + 0.005 * wave, withdrawal: 2 + (r % 7) / 10 } };
    case 'gauge':
      return { ...base, metrics: { river_stage: 0.5 + 0.05 * wave, rainfall: r % 30 === 0 ? 2 : 0, discharge: 1.2 + 0.1 * wave } };
    case 'soil':
      return { ...base, metrics: { soil_moisture: 0.3 + 0.02 * wave, soil_temperature: 12 + wave, soil_organic_carbon: 3.2 + 0.01 * wave } };
    case 'energy':
      return { ...base, metrics: { battery_soc: 60 + 10 * wave, pv_power: 1000 + 500 * wave, demand_power: 1500 } };
    case 'bio':
      return { ...base, species: SPECIES[(r * 7 + i) % SPECIES.length]!, metrics: { count: 1 + (r % 3), confidence: 0.8 } };
  }
}

const logger = roleLogger('rules-eval');
const rulesDir = join(dir, 'rules');
mkdirSync(rulesDir, { recursive: true });
let rulesPath: string;
if (set === 'generated') {
  rulesPath = join(rulesDir, 'generated.yaml');
  writeFileSync(rulesPath, generateRules(RULES, SENSORS));
} else if (set === 'none') {
  rulesPath = join(rulesDir, 'none.yaml');
  writeFileSync(rulesPath, 'rules: []\n');
} else if (set === 'demo') rulesPath = join(DEFAULT_RULES_DIR, 'demo.yaml');
else throw new Error(`unknown --set ${set} (generated, none, demo)`);

// A real registry: deadman rules list registered sensors at each evaluation, as in production.
const tReg = performance.now();
const registry = Registry.open(join(dir, 'registry'));
for (let i = 0; i < SENSORS; i += 32) {
  await Promise.all(
    Array.from({ length: Math.min(32, SENSORS - i) }, (_, k) => {
      const s = sensorOf(i + k);
      return registry.addSensor({ hub: HUB, domain: s.domain, sensor: s.sensor, site: s.site, kind: s.role, password: `bench-password-${s.sensor}` });
    }),
  );
}
const registerMs = Math.round(performance.now() - tReg);

const metrics = createMetrics();
let publishes = 0;
const engine = createRulesEngine({
  rulesDir: rulesPath,
  stateDir: join(dir, 'state'),
  logger,
  // No broker: alerts are counted, not delivered (the latency phases measure delivery).
  publish: async () => {
    publishes++;
  },
  sensors: () => registry.listSensors(),
  metrics: { registry: metrics.registry },
  watch: false,
});
const tInit = performance.now();
await engine.init();
const initMs = Math.round(performance.now() - tInit);
const ruleInfo = engine.rules();
const kinds: Record<string, number> = {};
for (const r of ruleInfo) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;

async function histogram(): Promise<Record<string, { sum: number; count: number }>> {
  const h = metrics.registry.getSingleMetric('steward_rules_evaluation_seconds') as Histogram<'mode'> | undefined;
  const out: Record<string, { sum: number; count: number }> = {};
  for (const v of h ? (await h.get()).values : []) {
    const mode = String(v.labels.mode);
    const e = (out[mode] ??= { sum: 0, count: 0 });
    if (v.metricName === 'steward_rules_evaluation_seconds_sum') e.sum = v.value;
    if (v.metricName === 'steward_rules_evaluation_seconds_count') e.count = v.value;
  }
  return out;
}
async function transitions(): Promise<number> {
  const c = metrics.registry.getSingleMetric('steward_alert_transitions_total');
  return c ? (await c.get()).values.reduce((n, v) => n + v.value, 0) : 0;
}

// Feed: round by round, one reading per call. The readings are built before the clock starts.
const rounds = Math.ceil(READINGS / SENSORS);
const t0 = Date.now() - rounds * MINUTE;
const readings: Reading[] = [];
for (let r = 0; r < rounds && readings.length < READINGS; r++) for (let i = 0; i < SENSORS && readings.length < READINGS; i++) readings.push(readingOf(i, r, t0));
const heap0 = process.memoryUsage().heapUsed;
const tFeed = performance.now();
if (BATCH === 1) for (const r of readings) engine.onReadings([r]);
else for (let i = 0; i < readings.length; i += BATCH) engine.onReadings(readings.slice(i, i + BATCH));
const feedMs = performance.now() - tFeed;
const heapAfterFeedMiB = Math.round((process.memoryUsage().heapUsed - heap0) / 1048576);
const afterFeed = { transitions: await transitions(), hist: await histogram() };

// Scheduled evaluation of every windowed and deadman rule.
const evaluations: number[] = [];
for (let k = 0; k < EVALUATIONS; k++) {
  const t = performance.now();
  engine.evaluate();
  evaluations.push(Math.round((performance.now() - t) * 10) / 10);
}
const afterEval = await histogram();
const mode = (m: string): number => Math.round((((afterEval[m]?.sum ?? 0) - (afterFeed.hist[m]?.sum ?? 0)) / EVALUATIONS) * 1e4) / 10;
// What one registry listing costs (each deadman rule lists the registry at each evaluation).
const tList = performance.now();
for (let k = 0; k < 20; k++) registry.listSensors();
const listSensorsMs = Math.round(((performance.now() - tList) / 20) * 100) / 100;
await engine.idle();
const sorted = [...evaluations].sort((a, b) => a - b);

serve(
  'rules-eval',
  () => undefined,
  async () => {
    await engine.stop();
    registry.close();
  },
);
emit({
  type: 'result',
  set,
  rules: ruleInfo.length,
  kinds,
  windowedRules: ruleInfo.filter((r) => r.mode !== 'stream').length,
  sensors: SENSORS,
  readings: readings.length,
  batch: BATCH,
  simulatedHours: Math.round((rounds * MINUTE) / 360_000) / 10,
  registerMs,
  initMs,
  feedMs: Math.round(feedMs),
  readingsPerS: Math.round(readings.length / (feedMs / 1000)),
  usPerReading: Math.round((feedMs * 1000 * 10) / readings.length) / 10,
  heapAfterFeedMiB,
  transitionsWhileFeeding: afterFeed.transitions,
  evaluationsMs: evaluations,
  evaluationMedianMs: sorted[Math.floor(sorted.length / 2)],
  evaluationFirstMs: evaluations[0],
  evaluationByModeMs: { window: mode('window'), deadman: mode('deadman') },
  listSensorsMs,
  transitionsAfterEvaluations: (await transitions()) - afterFeed.transitions,
  alertPublishes: publishes,
});
