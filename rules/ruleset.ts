/**
 * The compiled rule set: each loaded rule with its kind, selectors and subjects (the alerts it can
 * raise), indexed for the evaluator: stream and windowed rules by the metrics they read, deadman
 * and diversity rules apart. Replaced as a whole on reload.
 */
import type { Domain } from '../core/ids.ts';
import { kindOf, type Rule } from './kinds/all.ts';
import type { KindDefinition, Member, Mode, Scope } from './kinds/types.ts';
import type { RuleSet } from './loader.ts';
import type { AggregateFn, Severity } from './spec.ts';

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

/** One subject of a rule (a sensor, site or hub) and the sensors in it. */
export interface Subject {
  hub: string;
  subject: string;
  members: Map<string, Member>;
}

/** A rule ready to run. `subjects` grows as sensors are seen. */
export interface Compiled {
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

export const sensorKey = (hub: string, sensor: string): string => `${hub}/${sensor}`;
export const seriesKey = (hub: string, sensor: string, metric: string): string => `${hub}/${sensor}/${metric}`;
const toSet = (v: '*' | string[] | undefined): Set<string> | null => (v === undefined || v === '*' ? null : new Set(v));

export function compile(rule: Rule, file: string): Compiled {
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

export function matchesMember(c: Compiled, m: Member): boolean {
  return (!c.hubs || c.hubs.has(m.hub)) && (!c.domains || c.domains.has(m.domain)) && (!c.sensors || c.sensors.has(m.sensor)) && (!c.sites || c.sites.has(m.site));
}

/** The subject of `c` that sensor `m` belongs to, created (and `m` added to it) if new. */
export function subjectFor(c: Compiled, m: Member): Subject {
  const subject = c.scope === 'sensor' ? m.sensor : c.scope === 'site' ? m.site : m.hub;
  const key = `${m.hub}/${subject}`;
  let s = c.subjects.get(key);
  if (!s) c.subjects.set(key, (s = { hub: m.hub, subject, members: new Map() }));
  const mk = sensorKey(m.hub, m.sensor);
  const known = s.members.get(mk);
  if (!known || known.site !== m.site) s.members.set(mk, m);
  return s;
}

export class CompiledRules {
  readonly all = new Map<string, Compiled>();
  /** Enabled stream and windowed rules by the metrics they read. */
  readonly byMetric = new Map<string, Compiled[]>();
  readonly deadman: Compiled[] = [];
  readonly diversity: Compiled[] = [];

  constructor(set?: RuleSet) {
    for (const lr of set?.rules ?? []) this.all.set(lr.rule.id, compile(lr.rule, lr.file));
    for (const c of this.all.values()) {
      if (!c.rule.enabled) continue;
      if (c.mode === 'deadman') this.deadman.push(c);
      else if (c.rule.kind === 'diversity') this.diversity.push(c);
      else for (const m of c.metrics) this.byMetric.set(m, [...(this.byMetric.get(m) ?? []), c]);
    }
  }

  get(id: string): Compiled | undefined {
    return this.all.get(id);
  }

  get size(): number {
    return this.all.size;
  }

  values(): IterableIterator<Compiled> {
    return this.all.values();
  }

  /** The longest diversity window (detections are kept this long); 0 without diversity rules. */
  diversitySpan(): number {
    return this.diversity.length ? Math.max(...this.diversity.map((c) => c.span)) : 0;
  }

  info(): RuleInfo[] {
    return [...this.all.values()].map((c) => {
      const info: RuleInfo = { id: c.rule.id, kind: c.rule.kind, mode: c.mode, severity: c.rule.severity, file: c.file, enabled: c.rule.enabled };
      if (c.mode !== 'stream') info.schedule = (c.rule as { schedule: string }).schedule;
      if (c.rule.description) info.description = c.rule.description;
      return info;
    });
  }
}
