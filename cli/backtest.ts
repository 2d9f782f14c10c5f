/**
 * Backtest: how good are the alerts? Runs the demo fleet's simulators under a scenario and feeds
 * their readings, through the contract's parser (what ingest refuses, the rules never see), into
 * the real rules engine, on simulated time and as fast as the CPU allows: no broker, no network.
 * The alerts it raises are scored against the scenario's declared alerts (simulators/scenarios/)
 * and the world model's ground truth (simulators/truth.ts).
 *
 * Simulated time is the engine's wall clock too (a run at speed 1, compressed), so deadman rules,
 * re-notification intervals and acknowledgements behave as on a live hub.
 *
 * Sampling (stated in every report): every sensor reads every `intervalS` simulated seconds
 * (default 30 minutes; interval quantities such as rainfall and withdrawal still add up, the
 * simulators report what happened since their previous reading), and the scheduled rules and
 * housekeeping run every `evaluateEveryS` (default 1 hour) instead of on their cron schedules.
 *
 * Scores per rule: firings (episodes that reached `firing`), true firings (a declared alert of
 * the scenario, on its subject, inside its window), false firings (any other), misses (a required
 * declared alert that did not fire inside its window), lead time of depletion forecasts (how long
 * before the noise-free 24-hour mean really reached the floor), flaps (an alert firing again less
 * than its re-notification interval after it resolved) and acknowledgements lost (an alert that a
 * steward acknowledged firing again unacknowledged within that interval).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RejectionError } from '../core/errors.ts';
import { parsePayload } from '../core/parse.ts';
import type { Reading } from '../core/reading.ts';
import { demoFleet, type FleetEntry } from '../simulators/index.ts';
import { generate } from '../simulators/index.ts';
import { type ExpectedAlert, getScenario, SCENARIOS } from '../simulators/index.ts';
import { type GroundTruth, groundTruth } from '../simulators/index.ts';
import { simRegistration } from '../simulators/index.ts';
import { silentLogger } from '../telemetry/log.ts';
import type { AlertEvent } from '../rules/index.ts';
import { DEFAULT_RULES_DIR } from '../rules/index.ts';
import { createRulesEngine } from '../rules/index.ts';
import { RulesError } from '../rules/index.ts';
import type { Rule } from '../rules/index.ts';
import { formatIssue, loadRules } from '../rules/index.ts';
import { ManualScheduler } from '../rules/index.ts';
import type { Severity } from '../rules/index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface BacktestOptions {
  /** Scenario name (simulators/scenarios.ts). */
  scenario: string;
  /** Simulated days after the scenario begins (default: the scenario's `backtestDays`). */
  days?: number;
  /** Days of ordinary weather before the scenario begins, so windows are full (default 14; 0 for normal). */
  warmupDays?: number;
  seed?: number;
  /** When the scenario begins, epoch ms (default 2025-05-01 00:00 UTC). */
  startMs?: number;
  rulesDir?: string | string[];
  hub?: string;
  fleet?: FleetEntry[];
  /** Simulated seconds between readings of every sensor (default 1800). */
  intervalS?: number;
  /** Simulated seconds between evaluations of scheduled rules and housekeeping (default 3600). */
  evaluateEveryS?: number;
  /** A steward acknowledges each alert this long after it fires (default 1 hour; 0: never). */
  ackAfterS?: number;
}

/** One firing episode. Times are simulated epoch ms. */
export interface Firing {
  id: string;
  rule: string;
  subject: string;
  severity: Severity;
  episode: number;
  firedAt: number;
  resolvedAt: number | null;
  /** A declared alert of the scenario, inside its window. */
  expected: boolean;
  /** Fired again less than the rule's re-notification interval after the previous episode resolved. */
  flap: boolean;
  /** Depletion: days between firing and the real floor crossing (a lower bound when `leadAtLeast`). */
  leadDays?: number;
  leadAtLeast?: boolean;
  message: string;
}

export interface Miss {
  rule: string;
  subject: string;
  severity: Severity;
  window: readonly [number, number];
  because: string;
}

export interface RuleScore {
  rule: string;
  kind: string;
  severity: Severity;
  firings: number;
  truePositives: number;
  falsePositives: number;
  misses: number;
  /** Required declared alerts of this rule. */
  expected: number;
  /** true / firings (null without firings). */
  precision: number | null;
  /** (required − misses) / required (null when nothing was required). */
  recall: number | null;
  /** Shortest depletion lead time in days (null when none). */
  minLeadDays: number | null;
  flaps: number;
  flapsPerDay: number;
  acksLost: number;
}

export interface BacktestReport {
  scenario: string;
  description: string;
  seed: number;
  /** Scenario start, ISO. */
  start: string;
  days: number;
  warmupDays: number;
  intervalS: number;
  evaluateEveryS: number;
  readings: number;
  /** Readings refused by the parser (e.g. the -9999 sentinel), as ingest would. */
  refused: number;
  elapsedMs: number;
  rules: RuleScore[];
  firings: Firing[];
  misses: Miss[];
  truth: { faults: GroundTruth['faults']; floorCrossings: Array<{ rule: string; subject: string; floor: number; at: string | null }> };
  /** The quality bar (rules/README.md "Defaults that hold"), and what breaks it. */
  verdict: { ok: boolean; problems: string[] };
}

/** Default scenario start of a backtest: 1 May 2025 (spring into summer; the normal year runs to April). */
export const BACKTEST_START = Date.UTC(2025, 4, 1);

function subjectsOf(e: ExpectedAlert, truth: GroundTruth): string[] {
  if (typeof e.subject === 'function') return [...e.subject(truth)];
  return typeof e.subject === 'string' ? [e.subject] : [...e.subject];
}

/** Runs one scenario through the rules and scores the alerts. Throws RulesError on invalid rules, SimulatorError on an unknown scenario. */
export async function runBacktest(opts: BacktestOptions): Promise<BacktestReport> {
  const t0 = performance.now();
  const scenario = getScenario(opts.scenario);
  const seed = opts.seed ?? 42;
  const hub = opts.hub ?? 'demo';
  const fleet = opts.fleet ?? demoFleet(hub);
  const days = opts.days ?? scenario.backtestDays;
  const warmupDays = opts.warmupDays ?? (scenario.name === 'normal' ? 0 : 14);
  const intervalS = opts.intervalS ?? 1800;
  const every = (opts.evaluateEveryS ?? 3600) * 1000;
  const ackAfter = (opts.ackAfterS ?? 3600) * 1000;
  const rulesDir = opts.rulesDir ?? DEFAULT_RULES_DIR;
  const scenarioStart = opts.startMs ?? BACKTEST_START;
  const from = scenarioStart - warmupDays * DAY;
  const to = scenarioStart + days * DAY;

  const loaded = loadRules(typeof rulesDir === 'string' ? [rulesDir] : rulesDir);
  if (!loaded.ok) throw new RulesError('RULES_ERR_INVALID', `invalid rules:\n${loaded.errors.map(formatIssue).join('\n')}`);
  const rules = new Map<string, Rule>(loaded.ruleSet.rules.map((r) => [r.rule.id, r.rule]));

  const truth = groundTruth({ hub, fleet, seed, scenario: scenario.name, scenarioStartMs: scenarioStart, fromMs: from, toMs: to });

  const dir = mkdtempSync(join(tmpdir(), 'steward-backtest-'));
  let now = from;
  const scheduler = new ManualScheduler();
  const events: AlertEvent[] = [];
  const engine = createRulesEngine({
    rulesDir,
    stateDir: dir,
    logger: silentLogger,
    clock: { now: () => now },
    scheduler,
    watch: false,
    sink: { write: async (e) => void events.push(...e) },
  });
  let readings = 0;
  let refused = 0;
  const firings: Firing[] = [];
  const open = new Map<string, Firing>();
  const lastResolved = new Map<string, { at: number; acked: boolean }>();
  const pendingAcks: Array<{ id: string; at: number; episode: number }> = [];
  const acked = new Set<string>();
  const acksLost = new Map<string, number>();

  const collect = (): void => {
    for (const e of events.splice(0)) {
      if (e.event !== 'transition') continue;
      const a = e.alert;
      if (e.to === 'firing') {
        const prev = lastResolved.get(a.id);
        let firedAt = a.firedAt ? Date.parse(a.firedAt) : e.at;
        if (prev && firedAt <= prev.at) firedAt = e.at; // an episode reopened: it fires again now
        const renotify = rules.get(a.rule)?.renotify ?? 4 * HOUR;
        const flap = prev !== undefined && firedAt - prev.at < renotify;
        if (prev?.acked && flap && !a.acknowledged) acksLost.set(a.rule, (acksLost.get(a.rule) ?? 0) + 1);
        const f: Firing = { id: a.id, rule: a.rule, subject: a.subject, severity: a.severity, episode: a.episode, firedAt, resolvedAt: null, expected: false, flap, message: a.message };
        firings.push(f);
        open.set(a.id, f);
        if (ackAfter > 0 && !a.acknowledged) pendingAcks.push({ id: a.id, at: firedAt + ackAfter, episode: a.episode });
      } else if (e.from === 'firing') {
        const f = open.get(a.id);
        const at = a.resolvedAt ? Date.parse(a.resolvedAt) : e.at;
        if (f) f.resolvedAt = at;
        open.delete(a.id);
        lastResolved.set(a.id, { at, acked: acked.has(a.id) || a.acknowledged !== null });
        acked.delete(a.id);
      }
    }
  };
  const ackDue = (): void => {
    for (let i = pendingAcks.length - 1; i >= 0; i--) {
      const p = pendingAcks[i] as { id: string; at: number; episode: number };
      if (p.at > now) continue;
      pendingAcks.splice(i, 1);
      const cur = engine.get(p.id);
      if (cur && cur.state === 'firing' && !cur.acknowledged) {
        engine.ack(p.id, 'backtest', 'acknowledged by the simulated steward');
        acked.add(p.id);
      } else if (cur?.acknowledged) acked.add(p.id);
    }
  };

  try {
    await engine.init();
    engine.start();
    let nextEval = Math.floor(from / every) * every + every;
    let batch: Reading[] = [];
    let bucket = Number.NaN;
    const bucketMs = intervalS * 1000;
    const flush = (): void => {
      if (!batch.length) return;
      engine.onReadings(batch);
      batch = [];
      collect();
    };
    const tickUntil = async (t: number): Promise<void> => {
      while (nextEval <= t) {
        flush();
        now = nextEval;
        await scheduler.run();
        collect();
        ackDue();
        nextEval += every;
      }
    };
    for (const m of generate(fleet, seed, from, to, { hub, scenario: scenario.name, scenarioStartMs: scenarioStart, intervalS })) {
      const ts = m.payload.ts;
      await tickUntil(ts);
      const b = Math.floor(ts / bucketMs);
      if (b !== bucket) {
        flush();
        bucket = b;
      }
      if (ts > now) now = ts;
      readings++;
      try {
        batch.push(...parsePayload(Buffer.from(JSON.stringify(m.payload)), { hub, domain: m.domain, sensor: m.sensor, now: ts, ...simRegistration(m.payload) }));
      } catch (err) {
        if (!(err instanceof RejectionError)) throw err;
        refused++; // ingest refuses it: the rules never see it
      }
    }
    flush();
    await tickUntil(to);
    await engine.idle();
    collect();
  } finally {
    await engine.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }

  // ── scoring ──
  const expectations = scenario.expect.flatMap((e) => subjectsOf(e, truth).map((subject) => ({ e, subject })));
  const inWindow = (f: Firing, e: ExpectedAlert): boolean => f.firedAt >= scenarioStart + e.window[0] * DAY && f.firedAt <= scenarioStart + e.window[1] * DAY;
  const floorCrossings: BacktestReport['truth']['floorCrossings'] = [];
  for (const f of firings) {
    const match = expectations.find((x) => x.e.rule === f.rule && x.subject === f.subject && inWindow(f, x.e));
    f.expected = match !== undefined;
    const rule = rules.get(f.rule);
    if (rule?.kind === 'depletion' && rule.select.metric) {
      const crossing = truth.crossesBelow(f.subject, rule.select.metric, rule.floor);
      if (crossing !== undefined) f.leadDays = (crossing - f.firedAt) / DAY;
      else {
        f.leadDays = (to - f.firedAt) / DAY;
        f.leadAtLeast = true;
      }
    }
  }
  for (const rule of rules.values()) {
    if (rule.kind !== 'depletion' || !rule.select.metric) continue;
    for (const e of fleet.filter((x) => x.kind === 'groundwater')) {
      const at = truth.crossesBelow(e.sensor, rule.select.metric, rule.floor);
      floorCrossings.push({ rule: rule.id, subject: e.sensor, floor: rule.floor, at: at === undefined ? null : new Date(at).toISOString() });
    }
  }
  const misses: Miss[] = [];
  for (const { e, subject } of expectations) {
    if (e.optional) continue;
    if (!firings.some((f) => f.rule === e.rule && f.subject === subject && inWindow(f, e))) misses.push({ rule: e.rule, subject, severity: e.severity, window: e.window, because: e.because });
  }
  const span = (to - from) / DAY;
  const scores: RuleScore[] = [...rules.values()].map((r) => {
    const mine = firings.filter((f) => f.rule === r.id);
    const tp = mine.filter((f) => f.expected).length;
    const required = expectations.filter((x) => x.e.rule === r.id && !x.e.optional).length;
    const missed = misses.filter((m) => m.rule === r.id).length;
    const leads = mine.filter((f) => f.expected && f.leadDays !== undefined).map((f) => f.leadDays as number);
    const flaps = mine.filter((f) => f.flap).length;
    return {
      rule: r.id,
      kind: r.kind,
      severity: r.severity,
      firings: mine.length,
      truePositives: tp,
      falsePositives: mine.length - tp,
      misses: missed,
      expected: required,
      precision: mine.length ? tp / mine.length : null,
      recall: required ? (required - missed) / required : null,
      minLeadDays: leads.length ? Math.min(...leads) : null,
      flaps,
      flapsPerDay: flaps / span,
      acksLost: acksLost.get(r.id) ?? 0,
    };
  });

  const problems: string[] = [];
  const falses = firings.filter((f) => !f.expected);
  if (scenario.expect.length === 0) {
    const crit = falses.filter((f) => f.severity === 'critical').length;
    const warn = falses.filter((f) => f.severity === 'warning').length;
    if (crit > 0) problems.push(`${crit} critical firing(s) in ${scenario.name} weather (allowed: 0)`);
    if (warn > Math.ceil((2 * days) / 365)) problems.push(`${warn} warning firing(s) in ${days} days of ${scenario.name} weather (allowed: ${Math.ceil((2 * days) / 365)}, 2 a year)`);
  } else {
    for (const f of falses.filter((x) => x.severity === 'critical')) problems.push(`undeclared critical alert ${f.id} at ${new Date(f.firedAt).toISOString()}`);
  }
  for (const m of misses) problems.push(`missed ${m.rule} on ${m.subject} (expected within days ${m.window[0]}–${m.window[1]})`);
  for (const f of firings) {
    if (f.expected && f.leadDays !== undefined && f.leadDays < 7) problems.push(`${f.id} fired only ${f.leadDays.toFixed(1)} days before the floor (needed: 7)`);
    if (f.flap) problems.push(`${f.id} flapped: fired again at ${new Date(f.firedAt).toISOString()} soon after resolving`);
  }
  for (const s of scores) if (s.acksLost) problems.push(`${s.rule}: ${s.acksLost} acknowledgement(s) lost on a quick re-fire`);

  return {
    scenario: scenario.name,
    description: scenario.description,
    seed,
    start: new Date(scenarioStart).toISOString(),
    days,
    warmupDays,
    intervalS,
    evaluateEveryS: every / 1000,
    readings,
    refused,
    elapsedMs: Math.round(performance.now() - t0),
    rules: scores,
    firings,
    misses,
    truth: { faults: truth.faults, floorCrossings },
    verdict: { ok: problems.length === 0, problems },
  };
}

/** Every registered scenario, in registry order. */
export function scenarioNames(): string[] {
  return Object.keys(SCENARIOS);
}
