/**
 * The evaluator: runs the rules' kinds. On each reading it feeds the window store and evaluates
 * the stream rules of that reading's metrics; on schedule it evaluates windowed and deadman rules
 * over every subject, handing each observation to the alert book and the numbers of windowed
 * evaluations to `evaluations` (dashboards). It also keeps each rule's subjects up to date.
 */
import type { Domain } from '../core/ids.ts';
import type { Reading } from '../core/reading.ts';
import type { EvaluationPoint } from '../core/store.ts';
import type { AlertBook } from './book.ts';
import type { StageContext } from './context.ts';
import type { Rule } from './kinds/all.ts';
import type { Member, Observation } from './kinds/types.ts';
import { type Compiled, type CompiledRules, matchesMember, sensorKey, seriesKey, type Subject, subjectFor } from './ruleset.ts';
import type { DetectionRow } from './state.ts';
import { subjectView } from './view.ts';
import type { WindowStore } from './windows.ts';

export type SensorList = () => Iterable<{ hub: string; sensor: string; domain: Domain; site?: string | undefined }>;

export interface EvaluatorOptions {
  ctx: StageContext;
  rules: () => CompiledRules;
  windows: WindowStore;
  book: AlertBook;
  /** Registered sensors: deadman rules watch them even before their first reading. */
  sensors?: SensorList | undefined;
  /** Receives the numbers of every windowed evaluation, per subject (best effort). */
  evaluations?: ((points: EvaluationPoint[]) => void) | undefined;
}

export class Evaluator {
  readonly #o: EvaluatorOptions;

  constructor(o: EvaluatorOptions) {
    this.#o = o;
  }

  /** Feeds readings into the windows; evaluates stream rules on each newest reading. */
  onReadings(readings: readonly Reading[]): void {
    const { ctx, windows: w } = this.#o;
    const rules = this.#o.rules();
    const t0 = performance.now();
    const now = ctx.clock.now();
    const detections: DetectionRow[] = [];
    for (const r of readings) {
      const member = w.arrived(r, now);
      for (const c of rules.deadman) if (matchesMember(c, member)) subjectFor(c, member);

      for (const metric in r.metrics) {
        const value = r.metrics[metric] as number;
        const key = seriesKey(r.hub, r.sensor, metric);
        const newest = w.setLatest(key, r.ts, value);
        const list = rules.byMetric.get(metric);
        if (!list) continue;
        let span = 0;
        const stream: Compiled[] = [];
        for (const c of list) {
          if (!matchesMember(c, member)) continue;
          subjectFor(c, member);
          if (c.mode === 'stream') stream.push(c);
          else if (c.span > span) span = c.span;
        }
        if (span > 0) w.addPoint(key, r.ts, value, span, now);
        // A late reading joins the windows but does not move a threshold backwards in time.
        if (newest) for (const c of stream) this.#evaluateSubject(c, subjectFor(c, member), now);
      }

      if (r.species !== undefined && r.metrics.count !== undefined && rules.diversity.length) {
        let wanted = 0;
        for (const c of rules.diversity) {
          if (!matchesMember(c, member)) continue;
          subjectFor(c, member);
          wanted = Math.max(wanted, c.span);
        }
        if (wanted > 0 && w.addDetection(sensorKey(r.hub, r.sensor), { ts: r.ts, species: r.species, count: r.metrics.count }, wanted, ctx.clock.now())) {
          detections.push({ hub: r.hub, sensor: r.sensor, site: r.site, ts: r.ts, species: r.species, count: r.metrics.count });
        }
      }
    }
    if (detections.length) ctx.state?.addDetections(detections);
    ctx.metrics?.evaluationSeconds.observe({ mode: 'stream' }, (performance.now() - t0) / 1000);
  }

  /** Evaluates one windowed or deadman rule over all its subjects (what its schedule does). */
  evaluateRule(c: Compiled): void {
    const { ctx, evaluations } = this.#o;
    const t0 = performance.now();
    const now = ctx.clock.now();
    if (c.mode === 'deadman') this.#indexFromRegistry(c);
    const out = c.mode === 'window' && evaluations ? ([] as EvaluationPoint[]) : undefined;
    for (const s of c.subjects.values()) {
      const obs = this.#evaluateSubject(c, s, now);
      const p = out && obs ? evaluationPoint(c.rule, s, obs) : undefined;
      if (p && Object.keys(p.fields).length) out!.push(p);
    }
    if (out?.length) {
      try {
        evaluations!(out);
      } catch (err) {
        ctx.log.warn({ err, rule: c.rule.id }, 'rule evaluations not handed over');
      }
    }
    ctx.metrics?.evaluationSeconds.observe({ mode: c.mode }, (performance.now() - t0) / 1000);
  }

  /** Evaluates one subject and moves its alert; returns the observation (if the rule had one). */
  #evaluateSubject(c: Compiled, s: Subject, now: number): Observation | undefined {
    const { ctx, book } = this.#o;
    let obs: Observation | undefined;
    try {
      obs = c.def.evaluate(c.rule, subjectView(this.#o.windows, c, s), { now, active: book.active(c, s) });
    } catch (err) {
      ctx.log.error({ err, rule: c.rule.id, subject: s.subject }, 'rule evaluation failed');
      return undefined;
    }
    ctx.metrics?.evaluations.inc({ kind: c.rule.kind });
    if (obs) book.observe(c, s, obs, now);
    return obs;
  }

  /** Puts every known sensor into the subjects of every rule it matches; registered sensors count as seen at `startedAt`. */
  indexSubjects(startedAt: number): void {
    const w = this.#o.windows;
    for (const s of this.#o.sensors?.() ?? []) w.registered({ hub: s.hub, sensor: s.sensor, domain: s.domain, site: s.site ?? s.sensor }, startedAt);
    for (const c of this.#o.rules().values()) {
      if (!c.rule.enabled) continue;
      for (const m of w.meta.values()) {
        if (!matchesMember(c, m)) continue;
        if (c.mode === 'deadman') subjectFor(c, m);
        else if (c.rule.kind === 'diversity') {
          if (m.domain === 'biodiversity') subjectFor(c, m);
        } else if (c.metrics.some((metric) => w.latest.has(seriesKey(m.hub, m.sensor, metric)))) subjectFor(c, m);
      }
    }
  }

  #indexFromRegistry(c: Compiled): void {
    const { ctx, windows: w, sensors } = this.#o;
    if (!sensors) return;
    let list;
    try {
      list = [...sensors()];
    } catch (err) {
      ctx.log.warn({ err }, 'cannot list registered sensors');
      return;
    }
    for (const s of list) {
      const m: Member = w.meta.get(sensorKey(s.hub, s.sensor)) ?? { hub: s.hub, sensor: s.sensor, domain: s.domain, site: s.site ?? s.sensor };
      w.registered(m, ctx.clock.now());
      if (matchesMember(c, m)) subjectFor(c, m);
    }
  }
}

/** The numbers of one evaluation, for dashboards: `value` (-1 for "never", e.g. not falling) and the numeric facts. */
export function evaluationPoint(rule: Rule, s: { hub: string; subject: string }, obs: Observation): EvaluationPoint {
  const fields: Record<string, number> = {};
  for (const [k, v] of Object.entries(obs.facts)) if (typeof v === 'number' && Number.isFinite(v)) fields[k] = v;
  if (obs.value !== undefined) {
    if (Number.isFinite(obs.value)) fields.value = obs.value;
    else if (obs.value === Number.POSITIVE_INFINITY) fields.value = -1;
  }
  return { ts: obs.ts, hub: s.hub, rule: rule.id, subject: s.subject, kind: rule.kind, fields };
}
