/**
 * The rules engine: a chain of small stages (as in Alertmanager's notify pipeline), composed here.
 *
 * ```
 * readings ─▶ window store ─▶ evaluator ──▶ alert book ──▶ router ────▶ dispatcher ──▶ notifiers
 *             windows.ts      evaluator.ts  book.ts        router.ts    dispatcher.ts  notifiers/
 *             restore.ts      view.ts       lifecycle.ts   silencer.ts
 *             (from storage)  kinds/        state.ts       (held back?)
 *      API ─▶ alerts service (service.ts): alerts, get, ack, silences ─▶ alert book, silencer, router
 * ```
 *
 * This file owns what spans the stages: init (load the rules, open rules.db, restore the windows),
 * start/stop (schedules, housekeeping, the rule file watcher), reload and housekeeping.
 * Time: stream and windowed rules run on the sensors' own timestamps; deadman, re-notification,
 * acknowledgements and silences on the injected wall clock (rules/README.md explains why).
 * Restart: a kind that cannot decide for lack of data keeps the alert as it is, so a restart
 * neither forgets a firing alert nor fires it again.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Domain } from '../core/ids.ts';
import type { Reading } from '../core/reading.ts';
import type { AlertsService as AlertsApi } from '../core/alert.ts';
import type { EvaluationPoint, ReadingStore } from '../core/store.ts';
import type { AlertSink } from './alert.ts';
import { AlertBook } from './book.ts';
import type { StageContext } from './context.ts';
import { type DeliveryOutcome, Dispatcher } from './dispatcher.ts';
import { RulesError } from './errors.ts';
import { Evaluator } from './evaluator.ts';
import { isActive } from './lifecycle.ts';
import { formatIssue, type LoadResult, loadRules, type RuleSet, watchRules } from './loader.ts';
import { createRulesMetrics } from './metrics.ts';
import type { Notification, PublishFn } from './notifiers/types.ts';
import { type RestoreOptions, restoreFromStorage } from './restore.ts';
import { Router } from './router.ts';
import { type Compiled, CompiledRules, type RuleInfo } from './ruleset.ts';
import { cronScheduler, type ScheduledTask, type Scheduler, scheduleRules } from './scheduler.ts';
import { AlertsService } from './service.ts';
import { Silencer } from './silencer.ts';
import { AlertStateStore } from './state.ts';
import { WindowStore } from './windows.ts';

export type { AlertFilter, HistoryView } from './service.ts';
export type { SilenceInput, SilenceView } from './silencer.ts';
export type { RuleInfo } from './ruleset.ts';
export type { AlertMessage, AlertSink, AlertEvent } from './alert.ts';
export type { PublishFn } from './notifiers/types.ts';

const DAY = 86_400_000;

export interface RulesEngineOptions {
  /** Rule files: a directory (searched recursively), a file, or a list of either. */
  rulesDir: string | string[];
  /** Where `rules.db` (alert state, history, silences) lives, e.g. `{dataDir}/rules`. */
  stateDir: string;
  logger: Logger;
  /** Rebuilds windows after a restart (`latest` + `range`). Without it, windows start empty. */
  store?: ReadingStore;
  /** MQTT publish of the process's broker client; without it, no MQTT delivery. */
  publish?: PublishFn;
  /** Stores alert events (e.g. the InfluxDB `alerts` measurement). */
  sink?: AlertSink;
  /**
   * Receives the numbers of every evaluation of a scheduled (window) rule, per subject, so
   * dashboards show what the rules see (e.g. the store's `rule_evaluations`). Best effort.
   */
  evaluations?: (points: EvaluationPoint[]) => void;
  clock?: Clock;
  /** When windowed and deadman rules run (default node-cron). */
  scheduler?: Scheduler;
  /** Prometheus registry for the rules metrics (e.g. `createMetrics()` of telemetry/metrics.ts). */
  metrics?: { registry: Registry };
  /** Registered sensors: deadman rules watch them even before their first reading. */
  sensors?: () => Iterable<{ hub: string; sensor: string; domain: Domain; site?: string | undefined }>;
  /**
   * Prefix of escalated alerts (default `regional/v1`: `regional/v1/{hub}/alerts/{rule}/{subject}`);
   * `false` turns escalation off. The MQTT account of `publish` must be allowed to publish there.
   */
  regionalPrefix?: string | false;
  /** Reload rule files when they change (default true; started by `start()`). */
  watch?: boolean;
  watchDebounceMs?: number;
  /** Cron of housekeeping: retries, re-notifications, silence expiry, persistence (default every 10 s). */
  housekeeping?: string;
  /** Webhook transport (tests). */
  fetch?: typeof fetch;
  /** History older than this is pruned, ms (default 90 days). */
  historyRetentionMs?: number;
  /** Most points kept per series, and fetched per series on rebuild (default 50,000). */
  maxPointsPerSeries?: number;
  /** Backoff jitter source (tests). */
  random?: () => number;
}

/** The engine; its alerts and silences (`AlertsService` of core/alert.ts) throw RulesError. */
export interface RulesEngine extends AlertsApi {
  /** Loads and validates the rules (throws RulesError RULES_ERR_INVALID listing every problem), opens the state, rebuilds windows. */
  init(): Promise<void>;
  /** Starts schedules, housekeeping and the rule file watcher; delivers notifications left over from before a restart. */
  start(): void;
  /** Stops timers and the watcher, saves state, waits (bounded) for deliveries in progress, closes the state. */
  stop(): Promise<void>;
  /** Feeds accepted readings (ingest's listener). Stream rules are evaluated at once. */
  onReadings(readings: readonly Reading[]): void;
  /** Evaluates every windowed and deadman rule now (what the schedules do). */
  evaluate(): void;
  /** Retries outstanding deliveries, re-notifies, saves state (what the housekeeping schedule does). */
  housekeeping(): void;
  /** Reloads the rule files; on error the current rules stay active and the errors are logged and returned. */
  reload(): Promise<LoadResult>;
  rules(): RuleInfo[];
  /** Resolves when no delivery is queued (tests). */
  idle(): Promise<void>;
}

/** Builds a rules engine. Touches nothing until `init()`. */
export function createRulesEngine(o: RulesEngineOptions): RulesEngine {
  const log = o.logger.child({ role: 'rules' });
  const ctx: StageContext = { log, clock: o.clock ?? systemClock, metrics: createRulesMetrics(o.metrics?.registry), state: undefined };
  const scheduler = o.scheduler ?? cronScheduler();
  const paths = typeof o.rulesDir === 'string' ? [o.rulesDir] : [...o.rulesDir];
  let rules = new CompiledRules();
  const current = (): CompiledRules => rules;

  // The stages, first to last; each gets only what it uses.
  const windows = new WindowStore({ log, metrics: ctx.metrics, maxPointsPerSeries: o.maxPointsPerSeries });
  const silencer = new Silencer(ctx);
  const onResult = (id: string, target: string, n: Notification, outcome: DeliveryOutcome): void => book.delivered(id, target, n, outcome === 'failed');
  const dispatcher = new Dispatcher({ logger: log, metrics: ctx.metrics, onResult, ...(o.random ? { random: o.random } : {}) });
  const router = new Router({ ctx, rules: current, silencer, dispatcher, publish: o.publish, regionalPrefix: o.regionalPrefix, fetch: o.fetch });
  const book: AlertBook = new AlertBook({ ctx, rules: current, sink: o.sink, changed: (a, now) => router.route(a, now, true) });
  const evaluator = new Evaluator({ ctx, rules: current, windows, book, sensors: o.sensors, evaluations: o.evaluations });
  const service = new AlertsService({ ctx, book, silencer, router });
  const restoring: RestoreOptions = { store: o.store, log, maxPointsPerSeries: o.maxPointsPerSeries, now: () => ctx.clock.now() };
  const restore = (list: readonly Compiled[]): Promise<void> => restoreFromStorage(windows, list, rules.diversity, restoring);

  let tasks: ScheduledTask[] = [];
  let watcher: { close(): void } | undefined;
  let initialized = false;
  let started = false;
  let startedAt = 0;
  let buffer: Reading[] = [];

  /** Compiles a rule set, widens the windows its rules read and builds its notifiers. */
  const apply = (set: RuleSet): void => {
    rules = new CompiledRules(set);
    for (const c of rules.values()) windows.ensureSpans(c);
    router.configure(set);
  };

  /** The windowed and deadman rules on their schedules, then housekeeping. */
  const schedule = (): void => {
    for (const t of tasks) t.stop();
    const due = [...rules.values()].filter((c) => c.mode !== 'stream' && c.rule.enabled).map((c) => ({ id: c.rule.id, schedule: (c.rule as { schedule: string }).schedule }));
    tasks = scheduleRules(scheduler, due, (id) => {
      const c = rules.get(id);
      if (c && initialized) evaluator.evaluateRule(c);
    });
    tasks.push(scheduler.schedule(o.housekeeping ?? '*/10 * * * * *', () => engine.housekeeping()));
  };

  /** Saves changed alerts and last-seen times. */
  const flush = (): void => {
    const state = ctx.state;
    if (!state) return;
    try {
      book.save();
      windows.saveSeen(state);
    } catch (err) {
      log.error({ err }, 'cannot save alert state');
    }
  };

  const engine: RulesEngine = {
    async init() {
      const loaded = loadRules(paths);
      if (!loaded.ok) throw new RulesError('RULES_ERR_INVALID', `invalid rules:\n${loaded.errors.map(formatIssue).join('\n')}`);
      const state = (ctx.state = AlertStateStore.open(o.stateDir, { onCheckpointError: (message) => log.warn({ err: message }, 'rules.db checkpoint failed; the engine checkpoints the file itself past a bound') }));
      startedAt = ctx.clock.now();
      book.load(state.loadAlerts());
      silencer.load(state.loadSilences());
      apply(loaded.ruleSet);
      const deadman = book.values().filter((a) => a.kind === 'deadman' && isActive(a.state));
      windows.restoreSeen(state.loadLastSeen(), startedAt, (row) => deadman.some((a) => a.hub === row.hub && (a.subject === row.sensor || a.subject === row.site || a.subject === row.hub)));
      if (rules.diversity.length) windows.restoreDetections(state.detectionsSince(0), rules.diversitySpan(), ctx.clock.now());
      await restore([...rules.values()]);
      evaluator.indexSubjects(startedAt);
      initialized = true;
      const buffered = buffer;
      buffer = [];
      if (buffered.length) engine.onReadings(buffered);
      log.info({ rules: rules.size, files: loaded.ruleSet.files.length, alerts: book.values().filter((a) => isActive(a.state)).length }, 'rules engine ready');
    },

    start() {
      if (!initialized) throw new RulesError('RULES_ERR_STATE', 'start() before init()');
      if (started) return;
      started = true;
      schedule();
      const debounce = o.watchDebounceMs === undefined ? {} : { debounceMs: o.watchDebounceMs };
      if (o.watch !== false) watcher = watchRules(paths, () => void engine.reload(), { logger: log, ...debounce });
      // Deliveries left outstanding by a previous run (e.g. the broker was down) go out now.
      engine.housekeeping();
    },

    async stop() {
      started = false;
      for (const t of tasks) t.stop();
      tasks = [];
      watcher?.close();
      watcher = undefined;
      await dispatcher.stop();
      flush();
      await book.settled();
      await ctx.state?.close();
      ctx.state = undefined;
      initialized = false;
    },

    async reload() {
      const loaded = loadRules(paths);
      if (!loaded.ok) {
        for (const e of loaded.errors) log.error({ file: e.file, rule: e.rule, field: e.field, line: e.line }, `rule file rejected, keeping the previous rules: ${formatIssue(e)}`);
        ctx.metrics?.reloads.inc({ outcome: 'rejected' });
        return loaded;
      }
      const before = rules;
      apply(loaded.ruleSet);
      // Alerts of rules that are gone (or disabled) end: their retained topics are cleared.
      book.endRemoved(ctx.clock.now());
      const changed = [...rules.values()].filter((c) => {
        const old = before.get(c.rule.id);
        return !old || JSON.stringify(old.rule.select) !== JSON.stringify(c.rule.select) || old.span < c.span || old.metrics.join() !== c.metrics.join();
      });
      evaluator.indexSubjects(startedAt);
      if (changed.length) await restore(changed);
      evaluator.indexSubjects(startedAt);
      if (started) schedule();
      ctx.metrics?.reloads.inc({ outcome: 'applied' });
      log.info({ rules: rules.size, changed: changed.map((c) => c.rule.id) }, 'rules reloaded');
      return loaded;
    },

    rules: () => rules.info(),

    onReadings(readings) {
      // Readings that arrive while init() rebuilds the windows are replayed when it is done.
      if (!initialized) {
        if (buffer.length < 100_000) buffer.push(...readings);
        return;
      }
      evaluator.onReadings(readings);
    },

    evaluate() {
      for (const c of rules.values()) if (c.rule.enabled && c.mode !== 'stream' && initialized) evaluator.evaluateRule(c);
    },

    housekeeping() {
      if (!initialized) return;
      const now = ctx.clock.now();
      for (const a of book.values()) if (a.state !== 'inactive') router.route(a, now, false);
      flush();
      try {
        ctx.state?.prune(now - (o.historyRetentionMs ?? 90 * DAY), now - 30 * DAY);
        silencer.prune(now);
        if (rules.diversity.length && ctx.state) windows.pruneDetections(ctx.state, rules.diversitySpan());
      } catch (err) {
        log.warn({ err }, 'pruning alert state failed');
      }
    },

    idle: () => dispatcher.idle(),
    alerts: (filter) => service.alerts(filter),
    get: (id) => service.get(id),
    ack: (id, by, comment) => service.ack(id, by, comment),
    silences: (filter) => service.silences(filter),
    addSilence: (input) => service.addSilence(input),
    expireSilence: (id, by) => service.expireSilence(id, by),
  };
  return engine;
}
