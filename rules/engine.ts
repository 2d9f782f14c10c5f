/**
 * The rules engine: a chain of stages, as in Alertmanager's notify pipeline.
 *
 * ```
 * readings ──▶ windows ──▶ evaluate (kinds) ──▶ lifecycle + dedup ──▶ silence ──▶ route ──▶ notify with retry
 *               (series,     stream: on each     (one alert per rule    (matchers)   (mqtt, regional,   (dispatcher)
 *                latest,      reading; window/    and subject; state,                  webhooks)
 *                detections)  deadman: cron)      history in SQLite)
 * ```
 *
 * Time: stream and windowed rules run on the sensors' own timestamps (so an accelerated
 * simulation or a replay behaves like real time); deadman, re-notification, acknowledgements and
 * silences run on the injected wall clock. rules/README.md explains why.
 *
 * Restart: alert state lives in `rules.db` under `stateDir`; windows are rebuilt from storage
 * (`ReadingStore.latest` + `range`) in `init()`. A kind that cannot decide for lack of data keeps
 * the alert as it is, so a restart neither forgets a firing alert nor fires it again.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { metricDef } from '../core/catalogue.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Domain } from '../core/ids.ts';
import type { Reading } from '../core/reading.ts';
import type { EvaluationPoint, ReadingStore } from '../core/store.ts';
import { type AlertEvent, type AlertMessage, type AlertSink, toMessage } from './alert.ts';
import { type DeliveryOutcome, Dispatcher } from './dispatcher.ts';
import { RulesError } from './errors.ts';
import { kindOf, type Rule } from './kinds/all.ts';
import type { KindDefinition, Member, Mode, Observation, Scope, SubjectView } from './kinds/types.ts';
import { type AlertIdentity, type AlertRecord, type AlertState, alertId, isActive, messageOf, step } from './lifecycle.ts';
import { formatIssue, type LoadResult, loadRules, type RuleSet, watchRules } from './loader.ts';
import { createRulesMetrics, type RulesMetrics } from './metrics.ts';
import { createMqttNotifier, REGIONAL_PREFIX, regionalTopic } from './notifiers/mqtt/index.ts';
import type { Notification, Notifier, NotifyEvent, PublishFn } from './notifiers/types.ts';
import { createWebhookNotifier } from './notifiers/webhook/index.ts';
import { cronScheduler, type ScheduledTask, type Scheduler } from './scheduler.ts';
import { type Point, Series } from './series.ts';
import { isActiveSilence, silencing } from './silence.ts';
import { AlertStateStore, type HistoryEntry, type Silence, type SilenceMatchers } from './state.ts';
import type { AggregateFn, Severity } from './spec.ts';

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

/** Filter of `alerts()`. */
export interface AlertFilter {
  state?: AlertState | readonly AlertState[];
  /** One hub, or any of several (a token limited to hubs). */
  hub?: string | readonly string[];
  severity?: Severity;
  rule?: string;
  subject?: string;
  /** Most alerts returned (default 500). */
  limit?: number;
}

/** One history entry as the API shows it. */
export interface HistoryView {
  at: string;
  ts: string | null;
  event: HistoryEntry['event'];
  from: AlertState | null;
  to: AlertState | null;
  episode: number;
  message: string;
  by: string | null;
}

/** A silence with its current status. */
export interface SilenceView extends Silence {
  status: 'active' | 'pending' | 'expired';
}

/** What `addSilence` needs. Times are epoch ms (wall clock). */
export interface SilenceInput {
  matchers: SilenceMatchers;
  createdBy: string;
  comment: string;
  /** Give `endsAt` or `durationMs` (counted from `startsAt`, default now). */
  endsAt?: number;
  durationMs?: number;
  startsAt?: number;
}

/** A rule as `rules()` lists it. */
export interface RuleInfo {
  id: string;
  kind: string;
  mode: Mode;
  severity: Severity;
  file: string;
  enabled: boolean;
  schedule?: string;
  description?: string;
}

export interface RulesEngine {
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
  alerts(filter?: AlertFilter): AlertMessage[];
  /** One alert with its history (newest first). */
  get(id: string): (AlertMessage & { history: HistoryView[] }) | undefined;
  /** Acknowledges a pending or firing alert: no more re-notifications this episode. Throws RulesError. */
  ack(id: string, by: string, comment?: string): AlertMessage;
  silences(filter?: { status?: SilenceView['status'] | 'all' }): SilenceView[];
  /** Throws RulesError RULES_ERR_SILENCE_INVALID. */
  addSilence(input: SilenceInput): SilenceView;
  /** Ends a silence now. Throws RulesError RULES_ERR_NOT_FOUND. */
  expireSilence(id: string, by: string): SilenceView;
  rules(): RuleInfo[];
  /** Resolves when no delivery is queued (tests). */
  idle(): Promise<void>;
}

interface Subject {
  hub: string;
  subject: string;
  members: Map<string, Member>;
}

interface Compiled {
  rule: Rule;
  def: KindDefinition<Rule>;
  file: string;
  metrics: string[];
  span: number;
  mode: Mode;
  scope: Scope;
  fn: AggregateFn | undefined;
  hubs: Set<string> | null;
  sensors: Set<string> | null;
  sites: Set<string> | null;
  domains: Set<Domain> | null;
  subjects: Map<string, Subject>;
}

interface SeenEntry {
  at: number;
  member: Member;
  /** Never heard from since this engine started (seeded from the registry). */
  never?: boolean;
  /** Usual wall-clock gap between arrivals (EWMA), ms. */
  gap?: number;
}

interface Detection {
  ts: number;
  species: string;
  count: number;
}

const DAY = 86_400_000;
const sensorKey = (hub: string, sensor: string): string => `${hub}/${sensor}`;
const seriesKey = (hub: string, sensor: string, metric: string): string => `${hub}/${sensor}/${metric}`;
const toSet = (v: '*' | string[] | undefined): Set<string> | null => (v === undefined || v === '*' ? null : new Set(v));

function aggregate(fn: AggregateFn, values: readonly number[]): number {
  switch (fn) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

function compile(rule: Rule, file: string): Compiled {
  const def = kindOf(rule);
  const by = rule.aggregate?.by;
  const scope: Scope = by ?? (rule.kind === 'balance' ? 'hub' : 'sensor');
  return {
    rule,
    def,
    file,
    metrics: def.metrics(rule),
    span: def.spanMs(rule),
    mode: def.mode,
    scope,
    fn: scope === 'sensor' ? undefined : (rule.aggregate?.fn ?? 'mean'),
    hubs: toSet(rule.select.hub),
    sensors: toSet(rule.select.sensor),
    sites: toSet(rule.select.site),
    domains: rule.select.domain ? new Set(rule.select.domain) : null,
    subjects: new Map(),
  };
}

function matchesMember(c: Compiled, m: Member): boolean {
  return (!c.hubs || c.hubs.has(m.hub)) && (!c.domains || c.domains.has(m.domain)) && (!c.sensors || c.sensors.has(m.sensor)) && (!c.sites || c.sites.has(m.site));
}

function subjectOf(c: Compiled, m: Member): string {
  return c.scope === 'sensor' ? m.sensor : c.scope === 'site' ? m.site : m.hub;
}

/** Builds a rules engine. Touches nothing until `init()`. */
export function createRulesEngine(opts: RulesEngineOptions): RulesEngine {
  return new Engine(opts);
}

class Engine implements RulesEngine {
  readonly #o: RulesEngineOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #metrics: RulesMetrics | undefined;
  readonly #paths: string[];
  readonly #dispatcher: Dispatcher;
  #state: AlertStateStore | undefined;

  #rules = new Map<string, Compiled>();
  /** Stream and windowed rules by the metrics they read. */
  #byMetric = new Map<string, Compiled[]>();
  #deadman: Compiled[] = [];
  #diversity: Compiled[] = [];
  #notifiers = new Map<string, Notifier>();

  readonly #latest = new Map<string, Point>();
  readonly #series = new Map<string, Series>();
  readonly #meta = new Map<string, Member>();
  readonly #seen = new Map<string, SeenEntry>();
  readonly #seenDirty = new Set<string>();
  readonly #detections = new Map<string, Detection[]>();
  readonly #alerts = new Map<string, AlertRecord>();
  readonly #dirty = new Set<string>();
  readonly #silences = new Map<string, Silence>();
  readonly #sinkWrites = new Set<Promise<void>>();

  #tasks: ScheduledTask[] = [];
  #watcher: { close(): void } | undefined;
  #initialized = false;
  #started = false;
  #startedAt = 0;
  #buffer: Reading[] = [];
  #ignored = 0;
  #ignoredLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(o: RulesEngineOptions) {
    this.#o = o;
    this.#log = o.logger.child({ role: 'rules' });
    this.#clock = o.clock ?? systemClock;
    this.#scheduler = o.scheduler ?? cronScheduler();
    this.#metrics = createRulesMetrics(o.metrics?.registry);
    this.#paths = typeof o.rulesDir === 'string' ? [o.rulesDir] : [...o.rulesDir];
    const dispatcherOpts: ConstructorParameters<typeof Dispatcher>[0] = {
      logger: this.#log,
      metrics: this.#metrics,
      onResult: (id, target, n, outcome) => this.#onDelivery(id, target, n, outcome),
    };
    if (o.random) dispatcherOpts.random = o.random;
    this.#dispatcher = new Dispatcher(dispatcherOpts);
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────

  async init(): Promise<void> {
    const loaded = loadRules(this.#paths);
    if (!loaded.ok) throw new RulesError('RULES_ERR_INVALID', `invalid rules:\n${loaded.errors.map(formatIssue).join('\n')}`);
    this.#state = AlertStateStore.open(this.#o.stateDir);
    this.#startedAt = this.#clock.now();
    for (const a of this.#state.loadAlerts()) this.#alerts.set(a.id, a);
    for (const s of this.#state.loadSilences()) this.#silences.set(s.id, s);
    this.#applyRuleSet(loaded.ruleSet);
    this.#restoreSeen();
    this.#restoreDetections();
    await this.#rebuild([...this.#rules.values()]);
    await this.#rebuildDiversity([...this.#rules.values()]);
    this.#indexSubjects();
    this.#initialized = true;
    const buffered = this.#buffer;
    this.#buffer = [];
    if (buffered.length) this.onReadings(buffered);
    this.#log.info({ rules: this.#rules.size, files: loaded.ruleSet.files.length, alerts: [...this.#alerts.values()].filter((a) => isActive(a.state)).length }, 'rules engine ready');
  }

  start(): void {
    if (!this.#initialized) throw new RulesError('RULES_ERR_STATE', 'start() before init()');
    if (this.#started) return;
    this.#started = true;
    this.#schedule();
    if (this.#o.watch !== false) {
      const watchOpts: { debounceMs?: number; logger: Logger } = { logger: this.#log };
      if (this.#o.watchDebounceMs !== undefined) watchOpts.debounceMs = this.#o.watchDebounceMs;
      this.#watcher = watchRules(this.#paths, () => void this.reload(), watchOpts);
    }
    // Deliveries left outstanding by a previous run (e.g. the broker was down) go out now.
    this.housekeeping();
  }

  async stop(): Promise<void> {
    this.#started = false;
    for (const t of this.#tasks) t.stop();
    this.#tasks = [];
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#dispatcher.stop();
    this.#flush();
    await Promise.allSettled([...this.#sinkWrites]);
    this.#state?.close();
    this.#state = undefined;
    this.#initialized = false;
  }

  #schedule(): void {
    for (const t of this.#tasks) t.stop();
    this.#tasks = [];
    const byCron = new Map<string, Compiled[]>();
    for (const c of this.#rules.values()) {
      if (c.mode === 'stream' || !c.rule.enabled) continue;
      const cron = (c.rule as { schedule: string }).schedule;
      byCron.set(cron, [...(byCron.get(cron) ?? []), c]);
    }
    for (const [cron, list] of byCron) {
      const ids = list.map((c) => c.rule.id);
      this.#tasks.push(
        this.#scheduler.schedule(cron, () => {
          for (const id of ids) {
            const c = this.#rules.get(id);
            if (c) this.#evaluateRule(c);
          }
        }),
      );
    }
    this.#tasks.push(this.#scheduler.schedule(this.#o.housekeeping ?? '*/10 * * * * *', () => this.housekeeping()));
  }

  // ─── rules ──────────────────────────────────────────────────────────────────────────────

  #applyRuleSet(set: RuleSet): void {
    const next = new Map<string, Compiled>();
    for (const lr of set.rules) next.set(lr.rule.id, compile(lr.rule, lr.file));
    this.#rules = next;
    this.#byMetric = new Map();
    this.#deadman = [];
    this.#diversity = [];
    for (const c of next.values()) {
      if (!c.rule.enabled) continue;
      if (c.mode === 'deadman') this.#deadman.push(c);
      else if (c.rule.kind === 'diversity') this.#diversity.push(c);
      else for (const m of c.metrics) this.#byMetric.set(m, [...(this.#byMetric.get(m) ?? []), c]);
    }
    for (const c of next.values()) {
      if (!c.rule.enabled || c.span <= 0 || c.rule.kind === 'diversity') continue;
      for (const [key, s] of this.#series) {
        const [, , metric] = key.split('/');
        if (c.metrics.includes(metric as string)) s.ensureSpan(c.span);
      }
    }
    // Notifiers: MQTT and the regional escalation share the publish function; one per webhook.
    const notifiers = new Map<string, Notifier>();
    if (this.#o.publish) {
      notifiers.set('mqtt', createMqttNotifier({ publish: this.#o.publish }));
      const prefix = this.#o.regionalPrefix ?? REGIONAL_PREFIX;
      if (prefix !== false) notifiers.set('regional', createMqttNotifier({ publish: this.#o.publish, name: 'regional', topic: (h, r, s) => regionalTopic(h, r, s, prefix) }));
    }
    for (const w of set.webhooks.values()) {
      const deps: { fetch?: typeof fetch } = {};
      if (this.#o.fetch) deps.fetch = this.#o.fetch;
      notifiers.set(`webhook:${w.name}`, createWebhookNotifier(w, deps));
    }
    this.#notifiers = notifiers;
  }

  async reload(): Promise<LoadResult> {
    const loaded = loadRules(this.#paths);
    if (!loaded.ok) {
      for (const e of loaded.errors) this.#log.error({ file: e.file, rule: e.rule, field: e.field, line: e.line }, `rule file rejected, keeping the previous rules: ${formatIssue(e)}`);
      this.#metrics?.reloads.inc({ outcome: 'rejected' });
      return loaded;
    }
    const before = this.#rules;
    this.#applyRuleSet(loaded.ruleSet);
    const now = this.#clock.now();
    // Alerts of rules that are gone (or disabled) end: their retained topics are cleared.
    for (const a of [...this.#alerts.values()]) {
      const c = this.#rules.get(a.rule);
      if (isActive(a.state) && (!c || !c.rule.enabled)) this.#endForRemovedRule(a, now);
    }
    const changed = [...this.#rules.values()].filter((c) => {
      const old = before.get(c.rule.id);
      return !old || JSON.stringify(old.rule.select) !== JSON.stringify(c.rule.select) || old.span < c.span || old.metrics.join() !== c.metrics.join();
    });
    this.#indexSubjects();
    if (changed.length) {
      await this.#rebuild(changed);
      await this.#rebuildDiversity(changed);
    }
    this.#indexSubjects();
    if (this.#started) this.#schedule();
    this.#metrics?.reloads.inc({ outcome: 'applied' });
    this.#log.info({ rules: this.#rules.size, changed: changed.map((c) => c.rule.id) }, 'rules reloaded');
    return loaded;
  }

  #endForRemovedRule(a: AlertRecord, now: number): void {
    const to: AlertState = a.state === 'firing' ? 'resolved' : 'inactive';
    const next: AlertRecord = { ...a, state: to, updatedAt: now, summary: `Rule "${a.rule}" was removed or disabled; ${a.summary.charAt(0).toLowerCase()}${a.summary.slice(1)}` };
    if (to === 'resolved') next.resolvedAt = a.observedAt;
    this.#alerts.set(a.id, next);
    this.#recordTransition(next, a.state, to, now, 'rule_removed');
    this.#route(next, now, true);
  }

  rules(): RuleInfo[] {
    return [...this.#rules.values()].map((c) => {
      const info: RuleInfo = { id: c.rule.id, kind: c.rule.kind, mode: c.mode, severity: c.rule.severity, file: c.file, enabled: c.rule.enabled };
      if (c.mode !== 'stream') info.schedule = (c.rule as { schedule: string }).schedule;
      if (c.rule.description) info.description = c.rule.description;
      return info;
    });
  }

  // ─── data ───────────────────────────────────────────────────────────────────────────────

  onReadings(readings: readonly Reading[]): void {
    if (!this.#initialized) {
      // Readings that arrive while init() rebuilds the windows are replayed when it is done.
      if (this.#buffer.length < 100_000) this.#buffer.push(...readings);
      return;
    }
    const t0 = performance.now();
    const now = this.#clock.now();
    const detections: Array<{ hub: string; sensor: string; site: string; ts: number; species: string; count: number }> = [];
    for (const r of readings) {
      const member: Member = { hub: r.hub, sensor: r.sensor, site: r.site, domain: r.domain };
      const sk = sensorKey(r.hub, r.sensor);
      this.#meta.set(sk, member);
      const before = this.#seen.get(sk);
      const entry: SeenEntry = { at: now, member };
      let gap = before?.gap;
      if (before && !before.never && now > before.at) {
        // EWMA of arrival gaps; one long outage moves it at most 4× (so it is not learned as normal).
        const g = gap === undefined ? now - before.at : Math.min(now - before.at, 4 * gap);
        gap = gap === undefined ? g : 0.8 * gap + 0.2 * g;
      }
      if (gap !== undefined) entry.gap = gap;
      this.#seen.set(sk, entry);
      this.#seenDirty.add(sk);
      for (const c of this.#deadman) if (matchesMember(c, member)) this.#subject(c, member);

      for (const metric in r.metrics) {
        const value = r.metrics[metric] as number;
        const key = seriesKey(r.hub, r.sensor, metric);
        const prev = this.#latest.get(key);
        const newest = !prev || r.ts >= prev.ts;
        if (newest) this.#latest.set(key, { ts: r.ts, value });
        const rules = this.#byMetric.get(metric);
        if (!rules) continue;
        let span = 0;
        const stream: Compiled[] = [];
        for (const c of rules) {
          if (!matchesMember(c, member)) continue;
          this.#subject(c, member);
          if (c.mode === 'stream') stream.push(c);
          else if (c.span > span) span = c.span;
        }
        if (span > 0) {
          let s = this.#series.get(key);
          if (!s) this.#series.set(key, (s = new Series(span, this.#o.maxPointsPerSeries)));
          s.ensureSpan(span);
          if (s.add(r.ts, value) === 'too_old') this.#tooOld(key, r.ts, s.latestTs, now);
        }
        // A late reading joins the windows but does not move a threshold backwards in time.
        if (newest) for (const c of stream) this.#evaluateSubject(c, this.#subject(c, member), now);
      }

      if (r.species !== undefined && r.metrics.count !== undefined && this.#diversity.length) {
        let wanted = 0;
        for (const c of this.#diversity) {
          if (!matchesMember(c, member)) continue;
          this.#subject(c, member);
          wanted = Math.max(wanted, c.span);
        }
        if (wanted > 0 && this.#addDetection(sk, { ts: r.ts, species: r.species, count: r.metrics.count }, wanted)) {
          detections.push({ hub: r.hub, sensor: r.sensor, site: r.site, ts: r.ts, species: r.species, count: r.metrics.count });
        }
      }
    }
    if (detections.length) this.#state?.addDetections(detections);
    this.#metrics?.evaluationSeconds.observe({ mode: 'stream' }, (performance.now() - t0) / 1000);
  }

  #subject(c: Compiled, m: Member): Subject {
    const subject = subjectOf(c, m);
    const key = `${m.hub}/${subject}`;
    let s = c.subjects.get(key);
    if (!s) c.subjects.set(key, (s = { hub: m.hub, subject, members: new Map() }));
    const mk = sensorKey(m.hub, m.sensor);
    const known = s.members.get(mk);
    if (!known || known.site !== m.site) s.members.set(mk, m);
    return s;
  }

  /**
   * Counts a reading ignored because it is older than the window before its series' newest one,
   * and says so in the log (at most once a minute of wall clock, with how many since the last
   * line): a replay of old data into a hub with newer data otherwise looks like silence.
   */
  #tooOld(series: string, ts: number, newest: number | undefined, now: number): void {
    this.#metrics?.readingsLate.inc({ reason: 'too_old' });
    this.#ignored++;
    if (now - this.#ignoredLoggedAt < 60_000) return;
    this.#log.warn(
      { series, ts: new Date(ts).toISOString(), newest: newest === undefined ? null : new Date(newest).toISOString(), ignored: this.#ignored },
      `ignoring readings older than the rules' windows: ${series} at ${new Date(ts).toISOString()} is older than the window before its newest reading${newest === undefined ? '' : ` (${new Date(newest).toISOString()})`}; ${this.#ignored} ignored since the last such line`,
    );
    this.#ignoredLoggedAt = now;
    this.#ignored = 0;
  }

  /** Adds a detection in time order (same time and species replaces); false when too old. */
  #addDetection(sk: string, d: Detection, span: number): boolean {
    let list = this.#detections.get(sk);
    if (!list) this.#detections.set(sk, (list = []));
    const last = list.at(-1);
    if (last && d.ts < last.ts - span) {
      this.#tooOld(`${sk}/species`, d.ts, last.ts, this.#clock.now());
      return false;
    }
    let i = list.length;
    while (i > 0 && (list[i - 1] as Detection).ts > d.ts) i--;
    let j = i;
    while (j > 0 && (list[j - 1] as Detection).ts === d.ts) {
      if ((list[j - 1] as Detection).species === d.species) {
        list[j - 1] = d;
        return true;
      }
      j--;
    }
    list.splice(i, 0, d);
    const newest = (list.at(-1) as Detection).ts;
    let drop = 0;
    while (drop < list.length && (list[drop] as Detection).ts < newest - span) drop++;
    if (drop) list.splice(0, drop);
    return true;
  }

  /** Puts every known sensor into the subjects of every rule it matches. */
  #indexSubjects(): void {
    for (const s of this.#o.sensors?.() ?? []) {
      const m: Member = { hub: s.hub, sensor: s.sensor, domain: s.domain, site: s.site ?? s.sensor };
      const sk = sensorKey(s.hub, s.sensor);
      if (!this.#meta.has(sk)) this.#meta.set(sk, m);
      if (!this.#seen.has(sk)) this.#seen.set(sk, { at: this.#startedAt, member: m, never: true });
    }
    for (const c of this.#rules.values()) {
      if (!c.rule.enabled) continue;
      for (const m of this.#meta.values()) {
        if (!matchesMember(c, m)) continue;
        if (c.mode === 'deadman') this.#subject(c, m);
        else if (c.rule.kind === 'diversity') {
          if (m.domain === 'biodiversity') this.#subject(c, m);
        } else if (c.metrics.some((metric) => this.#latest.has(seriesKey(m.hub, m.sensor, metric)))) this.#subject(c, m);
      }
    }
  }

  #restoreSeen(): void {
    const state = this.#state as AlertStateStore;
    for (const row of state.loadLastSeen()) {
      const member: Member = { hub: row.hub, sensor: row.sensor, site: row.site, domain: row.domain };
      const sk = sensorKey(row.hub, row.sensor);
      this.#meta.set(sk, member);
      // Grace after a restart: readings that arrived while we were down were not seen, so silence
      // counts from our start; except where a deadman alert is in force, which must stay firing.
      const held = [...this.#alerts.values()].some(
        (a) => a.kind === 'deadman' && isActive(a.state) && a.hub === row.hub && (a.subject === row.sensor || a.subject === row.site || a.subject === row.hub),
      );
      const entry: SeenEntry = { at: held ? row.at : Math.max(row.at, this.#startedAt), member };
      if (row.gap !== null) entry.gap = row.gap;
      this.#seen.set(sk, entry);
    }
  }

  #restoreDetections(): void {
    const spans = this.#diversity.map((c) => c.span);
    if (!spans.length) return;
    const span = Math.max(...spans);
    const state = this.#state as AlertStateStore;
    for (const row of state.detectionsSince(0)) {
      const sk = sensorKey(row.hub, row.sensor);
      if (!this.#meta.has(sk)) this.#meta.set(sk, { hub: row.hub, sensor: row.sensor, site: row.site, domain: 'biodiversity' });
      this.#addDetection(sk, { ts: row.ts, species: row.species, count: row.count }, span);
    }
  }

  /**
   * Diversity windows reaching back past the detections the rules state holds (a new state, or a
   * baseline a year back added today) get their earlier whole days from the store's daily species
   * counts: one detection per site, species and day (at noon; the newest day at the newest reading),
   * counting the day's individuals, attributed to the site's first sensor. A site with several
   * sensors is restored only when every diversity rule aggregates by site or hub (a per-sensor
   * rule would otherwise see its neighbours' species).
   */
  async #rebuildDiversity(list: readonly Compiled[]): Promise<void> {
    const store = this.#o.store;
    const rules = list.filter((c) => c.rule.enabled && c.rule.kind === 'diversity');
    if (!store || !rules.length || !this.#diversity.length) return;
    const span = Math.max(...this.#diversity.map((c) => c.span));
    const grouped = this.#diversity.every((c) => c.rule.aggregate?.by === 'site' || c.rule.aggregate?.by === 'hub');
    let entries;
    try {
      entries = await store.latest({ domain: 'biodiversity' });
    } catch (err) {
      this.#log.warn({ err }, 'cannot rebuild diversity windows from storage');
      return;
    }
    const sites = new Map<string, { hub: string; site: string; sensors: Set<string>; newest: number }>();
    for (const e of entries) {
      const key = `${e.hub}\u0000${e.site}`;
      const s = sites.get(key) ?? { hub: e.hub, site: e.site, sensors: new Set<string>(), newest: e.ts };
      s.sensors.add(e.sensor);
      s.newest = Math.max(s.newest, e.ts);
      sites.set(key, s);
    }
    let added = 0;
    let skipped = 0;
    for (const s of sites.values()) {
      if (s.sensors.size > 1 && !grouped) {
        skipped++;
        continue;
      }
      const sensors = [...s.sensors].sort();
      const held = Math.min(...sensors.map((x) => this.#detections.get(sensorKey(s.hub, x))?.[0]?.ts ?? Infinity));
      const from = Math.ceil((s.newest - span) / DAY_MS) * DAY_MS;
      const to = held === Infinity ? s.newest + 1 : Math.floor(held / DAY_MS) * DAY_MS;
      if (to <= from) continue;
      let counts;
      try {
        counts = await store.speciesCounts({ hub: s.hub, site: s.site, from, to });
      } catch (err) {
        this.#log.warn({ err, site: s.site }, 'cannot rebuild a diversity window from the species counts');
        continue;
      }
      const sensor = sensors[0] as string;
      const sk = sensorKey(s.hub, sensor);
      if (!this.#meta.has(sk)) this.#meta.set(sk, { hub: s.hub, sensor, site: s.site, domain: 'biodiversity' });
      // The newest day at the newest reading, so windows end where they would on raw detections.
      const today = Math.floor(s.newest / DAY_MS) * DAY_MS;
      for (const c of counts) if (this.#addDetection(sk, { ts: c.day === today ? s.newest : c.day + DAY_MS / 2, species: c.species, count: c.individuals }, span)) added++;
    }
    if (added || skipped) this.#log.info({ detections: added, sitesSkipped: skipped }, 'diversity windows rebuilt from daily species counts');
  }

  /** Refills windows from storage: each matching sensor's points over the rule's span before its newest reading. */
  async #rebuild(list: readonly Compiled[]): Promise<void> {
    const store = this.#o.store;
    if (!store) return;
    const rules = list.filter((c) => c.rule.enabled && c.mode !== 'deadman' && c.rule.kind !== 'diversity');
    if (!rules.length) return;
    const queries = new Map<string, { hub?: string; domain: Domain }>();
    for (const c of rules) {
      const hub = c.hubs && c.hubs.size === 1 ? [...c.hubs][0] : undefined;
      for (const metric of c.metrics) {
        const domain = metricDef(metric)?.domain;
        if (!domain) continue;
        const q: { hub?: string; domain: Domain } = { domain };
        if (hub) q.hub = hub;
        queries.set(`${hub ?? '*'}|${domain}`, q);
      }
    }
    const wanted = new Map<string, { hub: string; sensor: string; metric: string; end: number; span: number; sum: boolean }>();
    const t0 = performance.now();
    for (const q of queries.values()) {
      let entries;
      try {
        entries = await store.latest(q);
      } catch (err) {
        this.#log.warn({ err, query: q }, 'cannot rebuild windows from storage; they start empty');
        continue;
      }
      for (const e of entries) {
        const m: Member = { hub: e.hub, sensor: e.sensor, site: e.site, domain: e.domain };
        const sk = sensorKey(e.hub, e.sensor);
        if (!this.#meta.has(sk)) this.#meta.set(sk, m);
        const key = seriesKey(e.hub, e.sensor, e.metric);
        const prev = this.#latest.get(key);
        if (!prev || e.ts > prev.ts) this.#latest.set(key, { ts: e.ts, value: e.value });
        for (const c of rules) {
          if (c.span <= 0 || !c.metrics.includes(e.metric) || !matchesMember(c, m)) continue;
          const w = wanted.get(key);
          const sum = summedMetrics(c.rule).has(e.metric);
          if (!w || w.span < c.span) wanted.set(key, { hub: e.hub, sensor: e.sensor, metric: e.metric, end: e.ts, span: c.span, sum: sum || (w?.sum ?? false) });
          else if (sum) w.sum = true;
        }
      }
    }
    let points = 0;
    let hourly = 0;
    for (const [key, w] of wanted) {
      let pts;
      const from = w.end - w.span;
      const limit = this.#o.maxPointsPerSeries ?? 50_000;
      try {
        pts = await store.range({ hub: w.hub, sensor: w.sensor, metric: w.metric, from, to: w.end + 1, limit });
      } catch (err) {
        this.#log.warn({ err, series: key }, 'cannot rebuild a window from storage');
        continue;
      }
      let s = this.#series.get(key);
      if (!s) this.#series.set(key, (s = new Series(w.span, this.#o.maxPointsPerSeries)));
      s.ensureSpan(w.span);
      // A window reaching back past the raw readings kept (e.g. 90 days on a 30-day store): its
      // start comes from the hourly aggregates, one point per hour at the hour's middle (the mean;
      // the sum for a balance side that sums quantities).
      const rawFrom = pts[0]?.ts ?? w.end + 1;
      const hoursTo = Math.floor(rawFrom / HOUR_MS) * HOUR_MS;
      if (hoursTo - from >= HOUR_MS) {
        try {
          const buckets = await store.range({ hub: w.hub, sensor: w.sensor, metric: w.metric, from, to: hoursTo, resolution: '1h', windowMs: HOUR_MS, agg: w.sum ? 'sum' : 'mean', limit });
          for (const b of buckets) s.add(b.ts + HOUR_MS / 2, b.value);
          hourly += buckets.length;
        } catch (err) {
          this.#log.warn({ err, series: key }, 'cannot rebuild the start of a window from the hourly aggregates');
        }
      }
      for (const p of pts) s.add(p.ts, p.value);
      points += pts.length;
    }
    if (wanted.size) this.#log.info({ series: wanted.size, points, hourly, ms: Math.round(performance.now() - t0) }, 'windows rebuilt from storage');
  }

  // ─── evaluation ─────────────────────────────────────────────────────────────────────────

  evaluate(): void {
    for (const c of this.#rules.values()) if (c.rule.enabled && c.mode !== 'stream') this.#evaluateRule(c);
  }

  #evaluateRule(c: Compiled): void {
    if (!this.#initialized) return;
    const t0 = performance.now();
    const now = this.#clock.now();
    if (c.mode === 'deadman') this.#indexSubjectsFromRegistry(c);
    const out = c.mode === 'window' && this.#o.evaluations ? ([] as EvaluationPoint[]) : undefined;
    for (const s of c.subjects.values()) {
      const obs = this.#evaluateSubject(c, s, now);
      const p = out && obs ? evaluationPoint(c.rule, s, obs) : undefined;
      if (p && Object.keys(p.fields).length) out!.push(p);
    }
    if (out?.length) {
      try {
        this.#o.evaluations!(out);
      } catch (err) {
        this.#log.warn({ err, rule: c.rule.id }, 'rule evaluations not handed over');
      }
    }
    this.#metrics?.evaluationSeconds.observe({ mode: c.mode }, (performance.now() - t0) / 1000);
  }

  #indexSubjectsFromRegistry(c: Compiled): void {
    if (!this.#o.sensors) return;
    let list;
    try {
      list = [...this.#o.sensors()];
    } catch (err) {
      this.#log.warn({ err }, 'cannot list registered sensors');
      return;
    }
    for (const s of list) {
      const sk = sensorKey(s.hub, s.sensor);
      const m = this.#meta.get(sk) ?? { hub: s.hub, sensor: s.sensor, domain: s.domain, site: s.site ?? s.sensor };
      if (!this.#meta.has(sk)) this.#meta.set(sk, m);
      if (!this.#seen.has(sk)) this.#seen.set(sk, { at: this.#clock.now(), member: m, never: true });
      if (matchesMember(c, m)) this.#subject(c, m);
    }
  }

  /** Evaluates one subject and moves its alert; returns the observation (if the rule had one). */
  #evaluateSubject(c: Compiled, s: Subject, now: number): Observation | undefined {
    const id = alertId(s.hub, c.rule.id, s.subject);
    const prev = this.#alerts.get(id);
    let obs: Observation | undefined;
    try {
      obs = c.def.evaluate(c.rule, this.#view(c, s), { now, active: isActive(prev?.state) });
    } catch (err) {
      this.#log.error({ err, rule: c.rule.id, subject: s.subject }, 'rule evaluation failed');
      return undefined;
    }
    this.#metrics?.evaluations.inc({ kind: c.rule.kind });
    if (!obs) return undefined;
    const who: AlertIdentity = { hub: s.hub, rule: c.rule.id, subject: s.subject, scope: c.scope, kind: c.rule.kind, severity: c.rule.severity, labels: c.rule.labels };
    if (c.rule.title) who.title = c.rule.title;
    const st = step(prev, obs, who, c.rule.for, now, c.rule.renotify);
    if (!st.to) {
      // Keep the numbers of an active alert current; leave a resolved one as it was when it ended.
      if (isActive(st.next.state)) {
        this.#alerts.set(id, st.next);
        this.#dirty.add(id);
      }
      return obs;
    }
    this.#alerts.set(id, st.next);
    this.#recordTransition(st.next, st.from, st.to, now, 'transition');
    this.#route(st.next, now, true);
    return obs;
  }

  #view(c: Compiled, s: Subject): SubjectView {
    const members = [...s.members.values()];
    const latest = this.#latest;
    const series = this.#series;
    const seen = this.#seen;
    const detections = this.#detections;
    const rule = c.rule;
    const scope = c.scope;
    const fn = c.fn;
    const window = 'window' in rule ? rule.window : 3_600_000;
    return {
      hub: s.hub,
      subject: s.subject,
      scope,
      fn,
      members,
      latestTs(metrics) {
        let max: number | undefined;
        for (const m of members) {
          if (metrics.includes('species')) {
            const t = detections.get(sensorKey(m.hub, m.sensor))?.at(-1)?.ts;
            if (t !== undefined && (max === undefined || t > max)) max = t;
          }
          for (const metric of metrics) {
            const key = seriesKey(m.hub, m.sensor, metric);
            const t = series.get(key)?.latestTs ?? latest.get(key)?.ts;
            if (t !== undefined && (max === undefined || t > max)) max = t;
          }
        }
        return max;
      },
      instant(metric) {
        const vals: Point[] = [];
        for (const m of members) {
          const p = latest.get(seriesKey(m.hub, m.sensor, metric));
          if (p) vals.push(p);
        }
        if (!vals.length) return undefined;
        if (scope === 'sensor' || !fn) {
          const p = vals.reduce((a, b) => (b.ts > a.ts ? b : a));
          return { ts: p.ts, value: p.value, n: 1 };
        }
        const newest = Math.max(...vals.map((v) => v.ts));
        const fresh = vals.filter((v) => v.ts >= newest - (rule.aggregate?.stale ?? 3_600_000));
        return { ts: newest, value: aggregate(fn, fresh.map((v) => v.value)), n: fresh.length };
      },
      points(metric, from, to) {
        if (scope === 'sensor' || !fn) {
          const m = members[0];
          return m ? (series.get(seriesKey(m.hub, m.sensor, metric))?.range(from, to) ?? []) : [];
        }
        // fn across members of each member's mean per step; the point sits at the mean time of its readings.
        const step = rule.aggregate?.step ?? Math.max(1000, Math.floor(window / 60));
        const buckets = new Map<number, { perMember: number[]; tsSum: number; n: number }>();
        for (const m of members) {
          const pts = series.get(seriesKey(m.hub, m.sensor, metric))?.range(from, to) ?? [];
          const mine = new Map<number, { sum: number; n: number; tsSum: number }>();
          for (const p of pts) {
            const b = Math.floor(p.ts / step);
            const e = mine.get(b) ?? { sum: 0, n: 0, tsSum: 0 };
            e.sum += p.value;
            e.n++;
            e.tsSum += p.ts;
            mine.set(b, e);
          }
          for (const [b, e] of mine) {
            const agg = buckets.get(b) ?? { perMember: [], tsSum: 0, n: 0 };
            agg.perMember.push(e.sum / e.n);
            agg.tsSum += e.tsSum;
            agg.n += e.n;
            buckets.set(b, agg);
          }
        }
        return [...buckets.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([, b]) => ({ ts: Math.round(b.tsSum / b.n), value: aggregate(fn, b.perMember) }));
      },
      memberPoints(metric, from, to, filter) {
        return members.filter((m) => !filter || filter(m)).map((member) => ({ member, points: series.get(seriesKey(member.hub, member.sensor, metric))?.range(from, to) ?? [] }));
      },
      lastSeen() {
        let best: SeenEntry | undefined;
        let gap: number | undefined;
        for (const m of members) {
          const e = seen.get(sensorKey(m.hub, m.sensor));
          if (!e) continue;
          if (!best || e.at > best.at) best = e;
          if (e.gap !== undefined && (gap === undefined || e.gap < gap)) gap = e.gap;
        }
        if (!best) return undefined;
        const out: { at: number; member: Member; gapMs?: number; never?: boolean } = { at: best.at, member: best.member };
        if (gap !== undefined) out.gapMs = gap;
        if (best.never) out.never = true;
        return out;
      },
      species(from, to) {
        const counts = new Map<string, number>();
        for (const m of members) {
          for (const d of detections.get(sensorKey(m.hub, m.sensor)) ?? []) {
            if (d.ts < from || d.ts > to) continue;
            counts.set(d.species, (counts.get(d.species) ?? 0) + d.count);
          }
        }
        return counts;
      },
    };
  }

  // ─── state, history, sink ───────────────────────────────────────────────────────────────

  #recordTransition(next: AlertRecord, from: AlertState, to: AlertState, now: number, event: 'transition' | 'rule_removed'): void {
    const c = this.#rules.get(next.rule);
    const message = messageOf(next, c?.rule.for);
    const h: HistoryEntry = { alertId: next.id, at: now, ts: next.observedAt, event, from, to, episode: next.episode, message, by: null };
    try {
      this.#state?.save([next], [h]);
      this.#dirty.delete(next.id);
    } catch (err) {
      this.#log.error({ err, alert: next.id }, 'cannot save alert state');
      this.#dirty.add(next.id);
    }
    this.#metrics?.transitions.inc({ rule: next.rule, to });
    const level = to === 'firing' ? 'warn' : 'info';
    this.#log[level]({ alert: next.id, from, to, severity: next.severity }, message);
    this.#sink({ at: now, event: 'transition', from, to, alert: toMessage(next, { forMs: c?.rule.for ?? 0 }) });
  }

  #sink(e: AlertEvent): void {
    const sink = this.#o.sink;
    if (!sink) return;
    const p = sink
      .write([e])
      .catch((err: unknown) => this.#log.warn({ err, alert: e.alert.id }, 'alert sink write failed'))
      .finally(() => this.#sinkWrites.delete(p));
    this.#sinkWrites.add(p);
  }

  #flush(): void {
    const state = this.#state;
    if (!state) return;
    try {
      const dirty = [...this.#dirty].map((id) => this.#alerts.get(id)).filter((a): a is AlertRecord => a !== undefined);
      if (dirty.length) state.save(dirty);
      this.#dirty.clear();
      const seen = [...this.#seenDirty].map((k) => this.#seen.get(k)).filter((e): e is SeenEntry => e !== undefined);
      state.saveLastSeen(seen.filter((e) => !e.never).map((e) => ({ ...e.member, at: e.at, gap: e.gap ?? null })));
      this.#seenDirty.clear();
    } catch (err) {
      this.#log.error({ err }, 'cannot save alert state');
    }
  }

  housekeeping(): void {
    if (!this.#initialized) return;
    const now = this.#clock.now();
    for (const a of this.#alerts.values()) if (a.state !== 'inactive') this.#route(a, now, false);
    this.#flush();
    try {
      this.#state?.prune(now - (this.#o.historyRetentionMs ?? 90 * DAY), now - 30 * DAY);
      for (const [id, s] of this.#silences) if (s.endsAt < now - 30 * DAY) this.#silences.delete(id);
      if (this.#diversity.length) {
        const span = Math.max(...this.#diversity.map((c) => c.span));
        for (const [sk, list] of this.#detections) {
          const newest = list.at(-1)?.ts;
          const [hub, sensor] = sk.split('/') as [string, string];
          if (newest !== undefined) this.#state?.pruneDetections(hub, sensor, newest - span);
        }
      }
    } catch (err) {
      this.#log.warn({ err }, 'pruning alert state failed');
    }
  }

  // ─── silence, route, notify ─────────────────────────────────────────────────────────────

  /** The delivery targets of an alert: MQTT, the regional escalation, the rule's webhooks. */
  #targets(a: AlertRecord): Notifier[] {
    const c = this.#rules.get(a.rule);
    const names = new Set<string>();
    if (c && c.rule.enabled) {
      names.add('mqtt');
      if (c.rule.escalate ?? (c.rule.kind === 'depletion' && c.rule.severity === 'critical')) names.add('regional');
      for (const w of c.rule.webhooks) names.add(`webhook:${w}`);
    }
    // Whoever was told it fires must hear that it ended, even if the route changed since.
    for (const [t, d] of Object.entries(a.delivery)) if (d.state === 'firing') names.add(t);
    return [...names].map((n) => this.#notifiers.get(n)).filter((n): n is Notifier => n !== undefined);
  }

  /**
   * Decides what each target should hear about `a` now and queues it. `transition`: called on a
   * state change (queued behind anything in flight); otherwise housekeeping (skips busy targets).
   */
  #route(a: AlertRecord, now: number, transition: boolean): void {
    const c = this.#rules.get(a.rule);
    const silencedBy = silencing(this.#silences.values(), a, now).map((s) => s.id);
    const message = toMessage(a, { forMs: c?.rule.for ?? 0, silencedBy });
    for (const n of this.#targets(a)) {
      const busy = this.#dispatcher.busy(a.id, n.name);
      if (busy && !transition) continue;
      const d = a.delivery[n.name];
      let event: NotifyEvent | undefined;
      if (a.state === 'firing') {
        if (silencedBy.length) {
          if (transition) this.#metrics?.notifications.inc({ target: n.name, outcome: 'silenced' });
          continue;
        }
        const renotify = c?.rule.renotify ?? 0;
        if (!d || d.episode !== a.episode || d.state !== 'firing') event = 'firing';
        else if (!transition && !a.ack && renotify > 0 && now - d.at >= renotify) event = 'renotify';
      } else if (a.state === 'resolved' || a.state === 'inactive') {
        if (d?.state === 'firing' || (transition && busy)) event = 'resolved';
      }
      if (event) this.#dispatcher.send(n, { event, alert: message });
    }
  }

  #onDelivery(id: string, target: string, n: Notification, outcome: DeliveryOutcome): void {
    if (outcome === 'failed' || n.event === 'update') return;
    const a = this.#alerts.get(id);
    if (!a) return;
    a.delivery = { ...a.delivery, [target]: { state: n.event === 'resolved' ? 'resolved' : 'firing', episode: n.alert.episode, at: this.#clock.now() } };
    try {
      this.#state?.save([a]);
    } catch (err) {
      this.#log.error({ err, alert: id }, 'cannot save delivery state');
      this.#dirty.add(id);
    }
  }

  idle(): Promise<void> {
    return this.#dispatcher.idle();
  }

  // ─── API: alerts, acks, silences ────────────────────────────────────────────────────────

  alerts(filter: AlertFilter = {}): AlertMessage[] {
    const states = filter.state === undefined ? null : new Set(typeof filter.state === 'string' ? [filter.state] : filter.state);
    const hubs = filter.hub === undefined ? null : new Set(typeof filter.hub === 'string' ? [filter.hub] : filter.hub);
    const now = this.#clock.now();
    const rank: Record<AlertState, number> = { firing: 0, pending: 1, resolved: 2, inactive: 3 };
    const sev: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
    return [...this.#alerts.values()]
      .filter(
        (a) =>
          (states ? states.has(a.state) : a.state !== 'inactive') &&
          (!hubs || hubs.has(a.hub)) &&
          (!filter.severity || a.severity === filter.severity) &&
          (!filter.rule || a.rule === filter.rule) &&
          (!filter.subject || a.subject === filter.subject),
      )
      .sort((x, y) => rank[x.state] - rank[y.state] || sev[x.severity] - sev[y.severity] || y.updatedAt - x.updatedAt || x.id.localeCompare(y.id))
      .slice(0, filter.limit ?? 500)
      .map((a) => this.#message(a, now));
  }

  #message(a: AlertRecord, now: number): AlertMessage {
    return toMessage(a, { forMs: this.#rules.get(a.rule)?.rule.for ?? 0, silencedBy: silencing(this.#silences.values(), a, now).map((s) => s.id) });
  }

  get(id: string): (AlertMessage & { history: HistoryView[] }) | undefined {
    const a = this.#alerts.get(id);
    if (!a) return undefined;
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    const history = (this.#state?.history(id) ?? []).map((h) => ({ at: new Date(h.at).toISOString(), ts: iso(h.ts), event: h.event, from: h.from, to: h.to, episode: h.episode, message: h.message, by: h.by }));
    return { ...this.#message(a, this.#clock.now()), history };
  }

  ack(id: string, by: string, comment?: string): AlertMessage {
    const a = this.#alerts.get(id);
    if (!a) throw new RulesError('RULES_ERR_NOT_FOUND', `no alert "${id}"`);
    if (!isActive(a.state)) throw new RulesError('RULES_ERR_NOT_ACKABLE', `alert "${id}" is ${a.state}; only pending or firing alerts can be acknowledged`);
    const now = this.#clock.now();
    const next: AlertRecord = { ...a, ack: comment ? { by, at: now, comment } : { by, at: now }, updatedAt: now };
    this.#alerts.set(id, next);
    const h: HistoryEntry = { alertId: id, at: now, ts: null, event: 'ack', from: a.state, to: a.state, episode: a.episode, message: `acknowledged by ${by}${comment ? `: ${comment}` : ''}`, by };
    this.#state?.save([next], [h]);
    this.#dirty.delete(id);
    this.#log.info({ alert: id, by }, 'alert acknowledged');
    const msg = this.#message(next, now);
    this.#sink({ at: now, event: 'ack', from: a.state, to: a.state, alert: msg });
    // The retained state shows who is on it; webhooks are not told (they get no 'update').
    for (const n of this.#targets(next)) {
      const d = next.delivery[n.name];
      if (d?.state === 'firing' && d.episode === next.episode) this.#dispatcher.send(n, { event: 'update', alert: msg });
    }
    return msg;
  }

  silences(filter: { status?: SilenceView['status'] | 'all' } = {}): SilenceView[] {
    const now = this.#clock.now();
    return [...this.#silences.values()]
      .map((s) => this.#silenceView(s, now))
      .filter((s) => !filter.status || filter.status === 'all' || s.status === filter.status)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  #silenceView(s: Silence, now: number): SilenceView {
    const status: SilenceView['status'] = isActiveSilence(s, now) ? 'active' : s.expiredAt === undefined && now < s.startsAt ? 'pending' : 'expired';
    return { ...s, status };
  }

  addSilence(input: SilenceInput): SilenceView {
    const now = this.#clock.now();
    const m = input.matchers ?? {};
    const matchers: SilenceMatchers = {};
    for (const k of ['rule', 'hub', 'subject', 'severity'] as const) {
      const v = m[k];
      if (v !== undefined && v !== '') (matchers as Record<string, string>)[k] = v;
    }
    if (!Object.keys(matchers).length) throw new RulesError('RULES_ERR_SILENCE_INVALID', 'a silence needs at least one matcher (rule, hub, subject or severity)');
    if (!input.comment?.trim()) throw new RulesError('RULES_ERR_SILENCE_INVALID', 'a silence needs a comment saying why');
    const startsAt = input.startsAt ?? now;
    const endsAt = input.endsAt ?? startsAt + (input.durationMs ?? 0);
    if (!(endsAt > now) || !(endsAt > startsAt)) throw new RulesError('RULES_ERR_SILENCE_INVALID', 'a silence must end in the future, after it starts');
    const s: Silence = { id: crypto.randomUUID(), matchers, createdBy: input.createdBy, comment: input.comment.trim(), startsAt, endsAt, createdAt: now };
    this.#silences.set(s.id, s);
    this.#state?.save(
      [],
      [...this.#alerts.values()]
        .filter((a) => isActive(a.state) && silencing([s], a, Math.max(now, startsAt)).length)
        .map((a) => ({ alertId: a.id, at: now, ts: null, event: 'silenced' as const, from: a.state, to: a.state, episode: a.episode, message: `silenced by ${s.createdBy} until ${new Date(s.endsAt).toISOString()}: ${s.comment}`, by: s.createdBy })),
    );
    this.#state?.saveSilence(s);
    this.#log.info({ silence: s.id, matchers, by: s.createdBy, until: new Date(s.endsAt).toISOString() }, 'silence added');
    return this.#silenceView(s, now);
  }

  expireSilence(id: string, by: string): SilenceView {
    const s = this.#silences.get(id);
    if (!s) throw new RulesError('RULES_ERR_NOT_FOUND', `no silence "${id}"`);
    const now = this.#clock.now();
    const next: Silence = s.expiredAt === undefined ? { ...s, expiredAt: now, expiredBy: by, endsAt: Math.min(s.endsAt, now) } : s;
    this.#silences.set(id, next);
    this.#state?.saveSilence(next);
    this.#log.info({ silence: id, by }, 'silence expired');
    // Alerts it held back are notified by the next housekeeping run.
    return this.#silenceView(next, now);
  }
}

export type { AlertMessage, AlertSink, AlertEvent } from './alert.ts';
export type { PublishFn } from './notifiers/types.ts';

/** The numbers of one evaluation, for dashboards: `value` (-1 for "never", e.g. not falling) and the numeric facts. */
function evaluationPoint(rule: Rule, s: { hub: string; subject: string }, obs: Observation): EvaluationPoint {
  const fields: Record<string, number> = {};
  for (const [k, v] of Object.entries(obs.facts)) if (typeof v === 'number' && Number.isFinite(v)) fields[k] = v;
  if (obs.value !== undefined) {
    if (Number.isFinite(obs.value)) fields.value = obs.value;
    else if (obs.value === Number.POSITIVE_INFINITY) fields.value = -1;
  }
  return { ts: obs.ts, hub: s.hub, rule: rule.id, subject: s.subject, kind: rule.kind, fields };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Metrics a balance rule sums per sensor (quantities per interval): restored from hourly sums, not means. */
function summedMetrics(rule: Rule): Set<string> {
  if (rule.kind !== 'balance') return new Set();
  return new Set([rule.extraction, rule.regeneration].filter((side) => side.over === 'sum').flatMap((side) => side.list));
}
