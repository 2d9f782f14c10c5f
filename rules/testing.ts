/**
 * Test helpers for rules timelines: an engine on a temporary rule directory and state directory,
 * a settable clock, a manual scheduler and a recording MQTT publish function. Used by the unit
 * tests beside the code and by tests/rules-*.test.ts.
 *
 * The recording `publish` is a test double on purpose: timeline tests check what the engine
 * decides to deliver, at which (fake) time; the real MQTT path is covered by
 * rules/notifiers/mqtt/index.test.ts (Aedes + mqtt.js over sockets) and tests/rules-*.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricDef } from '../core/catalogue.ts';
import type { Reading } from '../core/reading.ts';
import { silentLogger } from '../telemetry/log.ts';
import type { AlertMessage } from './alert.ts';
import type { StageContext } from './context.ts';
import type { AlertRecord } from './lifecycle.ts';
import { createRulesEngine, type RulesEngine, type RulesEngineOptions } from './engine.ts';
import { formatIssue, loadRules, type RuleSet } from './loader.ts';
import { CompiledRules } from './ruleset.ts';
import { ManualScheduler } from './scheduler.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** A fixed origin for timelines: 2026-11-25 00:00 UTC. */
export const T0 = Date.UTC(2026, 10, 25);

export interface Published {
  topic: string;
  /** Parsed JSON, or null for an empty (clearing) payload. */
  alert: (AlertMessage & { event: string }) | null;
  retain: boolean;
  /** Fake wall clock at publication. */
  at: number;
}

export interface Harness {
  engine: RulesEngine;
  /** The fake wall clock (epoch ms). */
  clock: { now(): number; set(t: number): void; advance(ms: number): void };
  scheduler: ManualScheduler;
  published: Published[];
  rulesDir: string;
  stateDir: string;
  /** Publishes fail while true (a broker outage). */
  brokerDown: boolean;
  /** Rewrites a rule file in the rules directory. */
  writeRules(yaml: string, file?: string): void;
  /** Runs the schedules once (windowed and deadman rules, housekeeping) and waits for deliveries. */
  tick(): Promise<void>;
  /** Feeds readings and waits for deliveries. */
  feed(...readings: Reading[]): Promise<void>;
  /** Published alert messages of one rule (and subject), non-empty only. */
  messages(rule: string, subject?: string): Array<AlertMessage & { event: string }>;
  /** A new engine on the same rule and state directories (a restart); the old one must be stopped. */
  restart(extra?: Partial<RulesEngineOptions>): Promise<RulesEngine>;
  close(): Promise<void>;
}

/** Starts an engine on `yaml` (written to `rules.yaml` in a fresh directory). */
export async function harness(yaml: string, extra: Partial<RulesEngineOptions> = {}): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'steward-rules-'));
  const rulesDir = join(root, 'rules');
  const stateDir = join(root, 'state');
  mkdirSync(rulesDir);
  writeFileSync(join(rulesDir, 'rules.yaml'), yaml);
  let now = T0;
  const clock = { now: () => now, set: (t: number) => void (now = t), advance: (ms: number) => void (now += ms) };
  let scheduler = new ManualScheduler();
  const published: Published[] = [];
  const h: Harness = {
    engine: undefined as unknown as RulesEngine,
    clock,
    get scheduler() {
      return scheduler;
    },
    published,
    rulesDir,
    stateDir,
    brokerDown: false,
    writeRules(text, file = 'rules.yaml') {
      writeFileSync(join(rulesDir, file), text);
    },
    async tick() {
      await scheduler.run();
      await h.engine.idle();
    },
    async feed(...readings) {
      h.engine.onReadings(readings);
      await h.engine.idle();
    },
    messages(rule, subject) {
      return published.filter((p) => p.alert && p.alert.rule === rule && (subject === undefined || p.alert.subject === subject) && !p.topic.startsWith('regional/')).map((p) => p.alert as AlertMessage & { event: string });
    },
    async restart(more = {}) {
      scheduler = new ManualScheduler();
      h.engine = make(more);
      await h.engine.init();
      h.engine.start();
      await h.engine.idle();
      return h.engine;
    },
    async close() {
      await h.engine.stop().catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
  const make = (more: Partial<RulesEngineOptions>): RulesEngine =>
    createRulesEngine({
      rulesDir,
      stateDir,
      logger: silentLogger,
      clock,
      scheduler,
      watch: false,
      random: () => 0.5,
      publish: async (topic, payload, opts) => {
        if (h.brokerDown) throw new Error('connection refused');
        const text = payload.toString();
        published.push({ topic, alert: text ? JSON.parse(text) : null, retain: opts.retain, at: now });
      },
      ...extra,
      ...more,
    });
  h.engine = make({});
  await h.engine.init();
  h.engine.start();
  await h.engine.idle();
  return h;
}

/** A reading with defaults: hub `demo`, the metric's domain, site = sensor, kind = domain. */
export function reading(sensor: string, ts: number, metrics: Record<string, number>, more: Partial<Reading> = {}): Reading {
  const first = Object.keys(metrics)[0] as string;
  const domain = metricDef(first)?.domain ?? 'water';
  return { hub: 'demo', domain, sensor, site: sensor, kind: domain, ts, seq: 0, metrics, ...more };
}

/** A rule file holding one rule: `id`, `kind`, then one `key: value` line per field (values as YAML; flow style allowed). */
export function ruleFile(id: string, kind: string, fields: Record<string, string | number>): string {
  return `\nrules:\n  - id: ${id}\n    kind: ${kind}\n${Object.entries(fields)
    .map(([k, v]) => `    ${k}: ${v}\n`)
    .join('')}`;
}

/** The timelines' battery rule: state of charge below 20 %, resolving above 25 % (`more` adds fields). */
export function batteryRule(more: Record<string, string | number> = {}): string {
  return ruleFile('battery-low', 'threshold', { select: '{ hub: demo, metric: battery_soc }', below: 20, hysteresis: 5, ...more });
}

/** A stage context for unit tests of one stage: silent logger, a settable clock, no metrics, no state. */
export function stageContext(now = T0): StageContext & { clock: { now(): number; set(t: number): void } } {
  let t = now;
  return { log: silentLogger, clock: { now: () => t, set: (v: number) => void (t = v) }, metrics: undefined, state: undefined };
}

/** Loads a rule file's text as the engine does (throws on an invalid one). */
export function ruleSetOf(yaml: string): RuleSet {
  const dir = mkdtempSync(join(tmpdir(), 'steward-ruleset-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), yaml);
    const loaded = loadRules([dir]);
    if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('; '));
    return loaded.ruleSet;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A rule file's text, compiled as the engine does. */
export function compileRules(yaml: string): CompiledRules {
  return new CompiledRules(ruleSetOf(yaml));
}

/** A firing alert record of `rule` on sensor `s1` of hub `demo` (`over` changes fields). */
export function alertRecord(rule: string, over: Partial<AlertRecord> = {}): AlertRecord {
  const id = `demo.${rule}.s1`;
  const base = { id, hub: 'demo', rule, subject: 's1', scope: 'sensor', kind: 'threshold', severity: 'warning', labels: {}, state: 'firing', episode: 1 } as const;
  return { ...base, activeAt: T0, firedAt: T0, resolvedAt: null, observedAt: T0, updatedAt: T0, summary: 'Low', value: 10, unit: '%', facts: {}, ack: null, delivery: {}, ...over };
}
