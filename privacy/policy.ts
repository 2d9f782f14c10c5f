/**
 * Privacy policies: declarative YAML, versioned, validated with zod and compiled once into a
 * function that filters one reading. Compilation fails fast (an unknown attribute, metric, domain
 * or operation; a prototype key; a personal field published unfiltered; a missing key); the
 * compiled filter fails closed (anything it cannot place is refused with PRIVACY_ERR_UNFILTERABLE
 * and the caller withholds the reading). privacy/README.md documents the format;
 * privacy/policies/default.yaml is the shipped policy.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ATTRIBUTES, METRICS, metricDef } from '../core/catalogue.ts';
import { DOMAINS, ID_PATTERN, type Domain, idSchema, isDomain } from '../core/ids.ts';
import { packagePath } from '../core/paths.ts';
import type { Reading } from '../core/reading.ts';
import type { StoredReading } from '../core/store.ts';
import { type ActionSink, PrivacyError, type PrivacyErrorCode } from './errors.ts';
import { VALUE_FILTERS } from './filters/all.ts';
import { type CompileContext, type CompiledValueFilter, type FieldInfo, FREE_TEXT_ATTRIBUTES, type ValueType } from './filters/types.ts';
import { type LatLon, geohashCellSize, snapToGeohashCell, snapToGridCell } from './geo.ts';
import { KEY_ID_PATTERN, type Keyring } from './keys.ts';
import { type NameMatcher, type ScrubKind, scrubText } from './scrub.ts';

/** The policy shipped with Steward. */
export const DEFAULT_POLICY_PATH = packagePath('privacy', 'policies', 'default.yaml');

/** Policy versions: what every published record carries as `policy`. */
export const POLICY_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Coarsest grid a sensitive taxon may be published at is at least this, degrees (GBIF's coarsest recommendation). */
export const MIN_SENSITIVE_GRID = 0.1;

/** Keys refused anywhere in a policy file: they would reach `Object.prototype` when copied. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const durationSchema = z.union([
  z.number().int().positive().describe('milliseconds'),
  z.string().regex(/^\d{1,9}(ms|s|m|h|d)$/, 'must be a whole number and a unit (ms, s, m, h, d), e.g. 15m'),
]);

/** Parses `15m`, `1h`, `900000` to milliseconds. */
export function durationMs(d: string | number): number {
  if (typeof d === 'number') return d;
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new TypeError(`invalid duration ${JSON.stringify(d)}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

const locationRuleSchema = z.union([
  z.enum(['keep', 'withhold']),
  z.strictObject({ grid: z.number().min(0.000001).max(180).describe('cell size, degrees') }),
  z.strictObject({ geohash: z.number().int().min(1).max(12).describe('geohash precision, characters') }),
]);
export type LocationRuleSpec = z.infer<typeof locationRuleSchema>;

const timeRuleSchema = z.union([z.literal('keep'), durationSchema]);

const fieldOpsSchema = z.record(z.string(), z.string().min(1));

const personalScopeSchema = z.strictObject({ location: locationRuleSchema.optional(), time: timeRuleSchema.optional() });

const domainScopeSchema = z.strictObject({
  attributes: fieldOpsSchema.optional(),
  metrics: fieldOpsSchema.optional(),
  location: locationRuleSchema.optional(),
  time: timeRuleSchema.optional(),
  personal: personalScopeSchema.optional(),
});

/** The policy file, as validated (the machine-readable policy the API publishes). */
export const policySchema = z.strictObject({
  version: z.string().regex(POLICY_VERSION_PATTERN, `must match ${POLICY_VERSION_PATTERN.source}`),
  title: z.string().min(1).max(200).optional(),
  description: z.string().max(4000).optional(),
  /** Key id (privacy.keys, STEWARD_PRIVACY_KEY_<ID>, or a key file) used by `pseudonymise`. */
  pseudonymKey: z.string().regex(KEY_ID_PATTERN, `must match ${KEY_ID_PATTERN.source}`).optional(),
  /** Attribute -> operation, for every domain. Unlisted: personal ones dropped, others kept. */
  attributes: fieldOpsSchema.default({}),
  /** Metric -> operation (`keep`, `drop`, `aggregate`). Unlisted: personal ones dropped (or aggregated if `households` names them), others kept. */
  metrics: fieldOpsSchema.default({}),
  /** Location rule of every domain unless the domain sets its own. */
  location: locationRuleSchema.default({ grid: 0.01 }),
  /** Time rounding of every domain unless the domain sets its own. */
  time: timeRuleSchema.default('keep'),
  /**
   * Readings about a person or a home: `at_home: true`, a personal attribute (an observer's name,
   * email or phone, a household id: citizen observations), or a kind listed here.
   */
  personal: z
    .strictObject({
      location: locationRuleSchema.default({ grid: 0.1 }),
      time: timeRuleSchema.default('keep'),
      kinds: z.array(idSchema).default([]),
    })
    .prefault({}),
  domains: z
    .strictObject({
      water: domainScopeSchema.optional(),
      soil: domainScopeSchema.optional(),
      energy: domainScopeSchema.optional(),
      biodiversity: domainScopeSchema.optional(),
    })
    .default({}),
  sensitiveTaxa: z
    .strictObject({
      action: z.enum(['generalise', 'withhold']).default('generalise'),
      grid: z.number().positive().max(180).default(0.2),
      /** Scientific names; a genus (one word) covers all its species; matching ignores case. */
      species: z.array(z.string().trim().min(1).max(200)).max(100_000).default([]),
    })
    .optional(),
  households: z
    .strictObject({
      metric: z.string().default('household_power'),
      /** Length of the fixed windows totals are published for; must divide a day (1d, 12h, 1h, 15m…). */
      window: durationSchema.default('1d'),
      minHouseholds: z.number().int().min(3).max(1_000_000).default(15),
      /** Largest share of the group's load one household may have, 0–0.5 (0.15 = 15%). */
      maxShare: z.number().gt(0).max(0.5).default(0.15),
      /**
       * Differential privacy of the published totals (privacy/README.md): each household's load in a
       * window is capped at `maxLoadW`, each total gets Laplace noise of scale maxLoadW / ε per
       * window, and no household takes part in totals worth more than `epsilonPerDay` in a UTC day.
       */
      noise: z
        .strictObject({
          epsilonPerDay: z.number().gt(0).max(10).default(1),
          maxLoadW: z.number().positive().max(1e6).default(3000),
        })
        .prefault({}),
      /** How long after a window ends its group waits for late readings. */
      grace: durationSchema.default('1m'),
      /** Readings older than this behind the newest are refused as late. */
      horizon: durationSchema.default('7d'),
      output: z
        .strictObject({
          metric: z.string().default('demand_power'),
          sensorPrefix: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be a lower-case id prefix').default('area-'),
          kind: idSchema.default('household-area'),
        })
        .prefault({}),
    })
    .optional(),
});
export type PolicyDocument = z.output<typeof policySchema>;

/** A location rule, compiled. `size` is the cell size in degrees (its latitude side), Infinity for withhold. */
export type LocationRule =
  | { kind: 'keep'; size: 0 }
  | { kind: 'withhold'; size: number }
  | { kind: 'grid'; step: number; size: number }
  | { kind: 'geohash'; precision: number; size: number };

export type MetricOp = 'keep' | 'drop' | 'aggregate';

/** The rules that apply to one domain, every field resolved (policy, domain override or default). */
export interface DomainRules {
  domain: Domain;
  attributes: ReadonlyMap<string, { op: string; from: 'domain' | 'policy' | 'default'; fn: CompiledValueFilter }>;
  metrics: ReadonlyMap<string, { op: MetricOp; from: 'domain' | 'policy' | 'default' }>;
  location: LocationRule;
  personalLocation: LocationRule;
  /** Rounding step, ms; 0 = keep. */
  timeMs: number;
  personalTimeMs: number;
}

/** The household aggregation rules (15/15 by default). */
export interface HouseholdRules {
  metric: string;
  windowMs: number;
  minHouseholds: number;
  maxShare: number;
  /** Privacy budget of one household per UTC day (ε). */
  epsilonPerDay: number;
  /** ε spent by one published total: epsilonPerDay × window / day. */
  epsilonPerWindow: number;
  /** One household's mean load counts at most this much in a total (the sensitivity), W. */
  maxLoadW: number;
  graceMs: number;
  horizonMs: number;
  outputMetric: string;
  sensorPrefix: string;
  kind: string;
}

/** One household reading, on its way to its area and window group. */
export interface HouseholdContribution {
  hub: string;
  /** The area as an id (lower-case slug), the group key. */
  area: string;
  /** The raw household id (the aggregator keeps only a keyed digest of it). */
  household: string;
  ts: number;
  value: number;
}

/** What the policy does with one reading. */
export type FilterOutcome =
  | { type: 'record'; record: StoredReading }
  | { type: 'household'; contribution: HouseholdContribution }
  | { type: 'withheld'; reason: string };

/** A policy compiled for use: immutable, safe to share. */
export interface CompiledPolicy {
  readonly version: string;
  /** The validated policy file (no secrets: keys are named by id only). */
  readonly document: PolicyDocument;
  readonly source: string;
  readonly rules: Readonly<Record<Domain, DomainRules>>;
  readonly households: HouseholdRules | undefined;
  readonly sensitive: { action: 'generalise' | 'withhold'; rule: LocationRule; species: ReadonlySet<string> } | undefined;
  readonly personalKinds: ReadonlySet<string>;
  /**
   * Filters one reading.
   * @throws PrivacyError `PRIVACY_ERR_UNFILTERABLE` when the reading has something the policy cannot place
   */
  filter(r: Reading, actions: ActionSink, env?: FilterEnv): FilterOutcome;
}

/** What the boundary gives the policy besides the reading: the names it knows, where scrubbing is counted. */
export interface FilterEnv {
  /** Every name the hub knows (observers seen so far, account holders). */
  names?: NameMatcher;
  /** Told what the scrubber removed, by kind. */
  scrubbed?: (kind: ScrubKind, n: number) => void;
}

/** Anything that hands out the policy in force (a fixed policy, or a watcher that reloads it). */
export interface PolicySource {
  current(): CompiledPolicy;
}

/** A policy source that never changes. */
export function fixedPolicy(p: CompiledPolicy): PolicySource {
  return { current: () => p };
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

function findPrototypeKey(v: unknown, path: string[] = []): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  for (const k of Object.keys(v)) {
    if (PROTOTYPE_KEYS.has(k)) return [...path, k].join('.');
    const hit = findPrototypeKey((v as Record<string, unknown>)[k], [...path, k]);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * Parses and validates a policy file's text (YAML or JSON). Does not compile it.
 *
 * @throws PrivacyError `PRIVACY_ERR_POLICY_FILE` (not YAML) or `PRIVACY_ERR_POLICY_INVALID` naming every bad key
 */
export function parsePolicy(text: string, source = 'policy'): PolicyDocument {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new PrivacyError('PRIVACY_ERR_POLICY_FILE', `${source}: not valid YAML: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PrivacyError('PRIVACY_ERR_POLICY_INVALID', `${source}: (root): must be a mapping`);
  const proto = findPrototypeKey(raw);
  if (proto) throw new PrivacyError('PRIVACY_ERR_POLICY_INVALID', `${source}: ${proto}: key not allowed`);
  const r = policySchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const path = i.path.length ? i.path.map(String).join('.') : '(root)';
      if (i.code === 'unrecognized_keys') return `${source}: ${path}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`;
      return `${source}: ${path}: ${i.message}`;
    });
    throw new PrivacyError('PRIVACY_ERR_POLICY_INVALID', lines.join('\n'));
  }
  return r.data;
}

/** Options of {@link compilePolicy} and {@link loadPolicy}. */
export interface CompileOptions {
  /** Secrets for `pseudonymise`. */
  keyring: Keyring;
  /** Names the policy in error messages (a file path). */
  source?: string;
}

/**
 * Reads, validates and compiles a policy file.
 *
 * @throws PrivacyError (`PRIVACY_ERR_POLICY_FILE`, `_POLICY_INVALID`, `_POLICY_PERSONAL`, `_KEY`) naming the file and the key at fault
 */
export function loadPolicy(path: string, opts: CompileOptions): CompiledPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PrivacyError('PRIVACY_ERR_POLICY_FILE', `${path}: cannot read: ${(e as Error).message}`);
  }
  return compilePolicy(parsePolicy(text, path), { ...opts, source: opts.source ?? path });
}

// ---------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------

interface Problem {
  code: PrivacyErrorCode;
  message: string;
}

function compileLocation(spec: LocationRuleSpec): LocationRule {
  if (spec === 'keep') return { kind: 'keep', size: 0 };
  if (spec === 'withhold') return { kind: 'withhold', size: Infinity };
  if ('grid' in spec) return { kind: 'grid', step: spec.grid, size: spec.grid };
  return { kind: 'geohash', precision: spec.geohash, size: geohashCellSize(spec.geohash).lat };
}

function attributeInfo(name: string): FieldInfo | undefined {
  if (!Object.prototype.hasOwnProperty.call(ATTRIBUTES, name)) return undefined;
  const d = ATTRIBUTES[name]!;
  return { target: 'attribute', name, description: d.description, personal: d.personal, type: d.type, freeText: FREE_TEXT_ATTRIBUTES.has(name) };
}

function metricInfo(name: string): FieldInfo | undefined {
  const d = metricDef(name);
  if (!d) return undefined;
  return { target: 'metric', name, description: d.description, personal: d.personal === true, type: 'number', freeText: false };
}

/** Normalises a scientific name for matching: lower case, single spaces. */
export function normaliseTaxon(s: string): string {
  return s.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Compiles a validated policy.
 *
 * @throws PrivacyError `PRIVACY_ERR_POLICY_PERSONAL` when the policy would publish a personal field
 *   unfiltered (the message names it), `PRIVACY_ERR_KEY` when a key is missing,
 *   `PRIVACY_ERR_POLICY_INVALID` for unknown names or misplaced operations; every problem is listed
 */
export function compilePolicy(doc: PolicyDocument, opts: CompileOptions): CompiledPolicy {
  const source = opts.source ?? 'policy';
  const problems: Problem[] = [];
  const invalid = (path: string, message: string): void => void problems.push({ code: 'PRIVACY_ERR_POLICY_INVALID', message: `${path}: ${message}` });
  const personal = (path: string, message: string): void => void problems.push({ code: 'PRIVACY_ERR_POLICY_PERSONAL', message: `${path}: ${message}` });

  // The key the policy names (looked up, or generated when the keyring may, once per compilation).
  let key: CompileContext['key'];
  if (doc.pseudonymKey) {
    try {
      const secret = opts.keyring.get(doc.pseudonymKey);
      if (secret) key = { id: doc.pseudonymKey, secret };
      else problems.push({ code: 'PRIVACY_ERR_KEY', message: `pseudonymKey: key "${doc.pseudonymKey}" is not configured (privacy.keys, STEWARD_PRIVACY_KEY_${doc.pseudonymKey.toUpperCase()}, or a key file)` });
    } catch (e) {
      problems.push({ code: 'PRIVACY_ERR_KEY', message: `pseudonymKey: ${(e as Error).message}` });
    }
  }
  const ctx: CompileContext = { key };

  // Households.
  let households: HouseholdRules | undefined;
  if (doc.households) {
    const h = doc.households;
    const m = metricDef(h.metric);
    const out = metricDef(h.output.metric);
    if (!m) invalid('households.metric', `unknown metric ${JSON.stringify(h.metric)}`);
    if (!out) invalid('households.output.metric', `unknown metric ${JSON.stringify(h.output.metric)}`);
    else if (out.personal) personal('households.output.metric', `${out.name} is a personal metric; the aggregate needs a non-personal one (e.g. demand_power)`);
    else if (m && out.domain !== m.domain) invalid('households.output.metric', `${out.name} is a ${out.domain} metric; ${m.name} is ${m.domain}`);
    const windowMs = durationMs(h.window);
    if (windowMs < 60_000) personal('households.window', `${h.window} is shorter than 1 minute; household windows must be at least 1m`);
    else if (86_400_000 % windowMs !== 0) invalid('households.window', `${h.window} does not divide a day; use e.g. 1d, 12h, 6h, 1h or 15m (the privacy budget is per day)`);
    households = {
      metric: h.metric,
      windowMs,
      minHouseholds: h.minHouseholds,
      maxShare: h.maxShare,
      epsilonPerDay: h.noise.epsilonPerDay,
      epsilonPerWindow: (h.noise.epsilonPerDay * windowMs) / 86_400_000,
      maxLoadW: h.noise.maxLoadW,
      graceMs: durationMs(h.grace),
      horizonMs: durationMs(h.horizon),
      outputMetric: h.output.metric,
      sensorPrefix: h.output.sensorPrefix,
      kind: h.output.kind,
    };
  }

  // Operations named anywhere: check the names once, with the path where they appear.
  const checkAttributeOps = (ops: Record<string, string>, path: string): void => {
    for (const [name, op] of Object.entries(ops)) {
      const info = attributeInfo(name);
      if (!info) {
        invalid(`${path}.${name}`, `unknown attribute ${JSON.stringify(name)} (known: ${Object.keys(ATTRIBUTES).join(', ')})`);
        continue;
      }
      const f = VALUE_FILTERS.get(op);
      if (!f || !f.targets.includes('attribute')) {
        invalid(`${path}.${name}`, `unknown attribute operation ${JSON.stringify(op)} (one of ${[...VALUE_FILTERS.values()].filter((v) => v.targets.includes('attribute')).map((v) => v.name).join(', ')})`);
        continue;
      }
      if (!f.types.includes(info.type as ValueType)) invalid(`${path}.${name}`, `${op} applies to ${f.types.join(' or ')} attributes; ${name} is a ${info.type}`);
      if (f.publishesRaw && info.personal) personal(`${path}.${name}`, `${op} would publish the personal attribute ${name} (${info.description}) unfiltered; use drop${info.type === 'string' ? ', pseudonymise' : ''}${info.freeText ? ' or scrub' : ''}`);
      const p = f.check?.(info, ctx);
      if (p) problems.push({ code: p.code, message: `${path}.${name}: ${p.message}` });
    }
  };
  const checkMetricOps = (ops: Record<string, string>, path: string, domain?: Domain): void => {
    for (const [name, op] of Object.entries(ops)) {
      const info = metricInfo(name);
      if (!info) {
        invalid(`${path}.${name}`, `unknown metric ${JSON.stringify(name)}`);
        continue;
      }
      const def = METRICS[name]!;
      if (domain && def.domain !== domain) invalid(`${path}.${name}`, `${name} is a ${def.domain} metric, not ${domain}`);
      if (op === 'aggregate') {
        if (!households) invalid(`${path}.${name}`, `aggregate needs a households section naming ${name}`);
        else if (households.metric !== name) invalid(`${path}.${name}`, `only the households metric (${households.metric}) can be aggregated`);
        continue;
      }
      if (op !== 'keep' && op !== 'drop') {
        invalid(`${path}.${name}`, `unknown metric operation ${JSON.stringify(op)} (one of keep, drop, aggregate)`);
        continue;
      }
      if (op === 'keep' && info.personal) personal(`${path}.${name}`, `keep would publish the personal metric ${name} (${info.description}) unfiltered; use drop${households?.metric === name ? ' or aggregate' : ''}`);
    }
  };
  checkAttributeOps(doc.attributes, 'attributes');
  checkMetricOps(doc.metrics, 'metrics');
  for (const d of DOMAINS) {
    const s = doc.domains[d];
    if (!s) continue;
    if (s.attributes) checkAttributeOps(s.attributes, `domains.${d}.attributes`);
    if (s.metrics) checkMetricOps(s.metrics, `domains.${d}.metrics`, d);
  }

  // Locations: anything about a person or a home must be coarsened or withheld.
  if (doc.personal.location === 'keep') personal('personal.location', 'keep would publish exact coordinates of homes and citizen observers; use a grid, a geohash precision or withhold');
  for (const d of DOMAINS) if (doc.domains[d]?.personal?.location === 'keep') personal(`domains.${d}.personal.location`, 'keep would publish exact coordinates of homes and citizen observers; use a grid, a geohash precision or withhold');

  let sensitive: CompiledPolicy['sensitive'];
  if (doc.sensitiveTaxa) {
    const t = doc.sensitiveTaxa;
    if (t.action === 'generalise' && t.grid < MIN_SENSITIVE_GRID)
      personal('sensitiveTaxa.grid', `${t.grid}° would publish sensitive species too precisely; use at least ${MIN_SENSITIVE_GRID}° (0.2° is usual) or action: withhold`);
    sensitive = {
      action: t.action,
      rule: t.action === 'withhold' ? { kind: 'withhold', size: Infinity } : { kind: 'grid', step: t.grid, size: t.grid },
      species: new Set(t.species.map(normaliseTaxon)),
    };
  }

  if (problems.length) {
    const code = problems.some((p) => p.code === 'PRIVACY_ERR_POLICY_PERSONAL') ? 'PRIVACY_ERR_POLICY_PERSONAL' : problems.some((p) => p.code === 'PRIVACY_ERR_KEY') ? 'PRIVACY_ERR_KEY' : 'PRIVACY_ERR_POLICY_INVALID';
    throw new PrivacyError(code, problems.map((p) => `${source}: ${p.message}`).join('\n'));
  }

  // Resolve every field of every domain.
  const rules = {} as Record<Domain, DomainRules>;
  for (const d of DOMAINS) {
    const s = doc.domains[d];
    const attributes = new Map<string, { op: string; from: 'domain' | 'policy' | 'default'; fn: CompiledValueFilter }>();
    for (const name of Object.keys(ATTRIBUTES)) {
      const info = attributeInfo(name)!;
      const own = s?.attributes && Object.prototype.hasOwnProperty.call(s.attributes, name) ? s.attributes[name] : undefined;
      const global = Object.prototype.hasOwnProperty.call(doc.attributes, name) ? doc.attributes[name] : undefined;
      const op = own ?? global ?? (info.personal ? 'drop' : 'keep');
      const f = VALUE_FILTERS.get(op)!;
      attributes.set(name, { op, from: own ? 'domain' : global ? 'policy' : 'default', fn: f.compile(info, ctx) });
    }
    const metrics = new Map<string, { op: MetricOp; from: 'domain' | 'policy' | 'default' }>();
    for (const def of Object.values(METRICS)) {
      if (def.domain !== d) continue;
      const own = s?.metrics && Object.prototype.hasOwnProperty.call(s.metrics, def.name) ? s.metrics[def.name] : undefined;
      const global = Object.prototype.hasOwnProperty.call(doc.metrics, def.name) ? doc.metrics[def.name] : undefined;
      const dflt: MetricOp = households?.metric === def.name ? 'aggregate' : def.personal ? 'drop' : 'keep';
      metrics.set(def.name, { op: (own ?? global ?? dflt) as MetricOp, from: own ? 'domain' : global ? 'policy' : 'default' });
    }
    const location = compileLocation(s?.location ?? doc.location);
    const personalLocation = compileLocation(s?.personal?.location ?? doc.personal.location);
    const time = s?.time ?? doc.time;
    const personalTime = s?.personal?.time ?? doc.personal.time;
    rules[d] = {
      domain: d,
      attributes,
      metrics,
      location,
      personalLocation: personalLocation.size >= location.size ? personalLocation : location,
      timeMs: time === 'keep' ? 0 : durationMs(time),
      personalTimeMs: Math.max(personalTime === 'keep' ? 0 : durationMs(personalTime), time === 'keep' ? 0 : durationMs(time)),
    };
  }

  const personalKinds = new Set(doc.personal.kinds);
  const frozenDoc = deepFreeze(structuredClone(doc));
  const policy: CompiledPolicy = {
    version: doc.version,
    document: frozenDoc,
    source,
    rules,
    households,
    sensitive,
    personalKinds,
    filter: (r, actions, env) => filterReading(policy, r, actions, env ?? {}),
  };
  return Object.freeze(policy);
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Filtering one reading
// ---------------------------------------------------------------------------

function unfilterable(message: string): never {
  throw new PrivacyError('PRIVACY_ERR_UNFILTERABLE', message);
}

/** Is `species` (or its genus, or a shorter prefix of its name) in the sensitive list? */
export function isSensitiveTaxon(species: string, list: ReadonlySet<string>): boolean {
  if (list.size === 0) return false;
  const words = normaliseTaxon(species).split(' ');
  for (let i = 1; i <= words.length; i++) if (list.has(words.slice(0, i).join(' '))) return true;
  return false;
}

/** The area of a household reading as an id part: lower-case ASCII, digits, `_`, `-`. */
export function areaSlug(area: string, maxLength: number): string {
  return area
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, maxLength)
    .replace(/[-_]+$/, '');
}

function applyLocation(rule: LocationRule, loc: LatLon): LatLon | undefined {
  switch (rule.kind) {
    case 'keep':
      return { lat: loc.lat, lon: loc.lon };
    case 'withhold':
      return undefined;
    case 'grid':
      return snapToGridCell(loc, rule.step);
    case 'geohash':
      return snapToGeohashCell(loc, rule.precision);
  }
}

function countScrubbed(env: FilterEnv, byKind: Partial<Record<ScrubKind, number>> | undefined): void {
  if (!byKind || !env.scrubbed) return;
  for (const [k, n] of Object.entries(byKind)) if (n) env.scrubbed(k as ScrubKind, n);
}

function filterReading(policy: CompiledPolicy, r: Reading, actions: ActionSink, env: FilterEnv): FilterOutcome {
  if (!isDomain(r.domain)) unfilterable(`unknown domain ${JSON.stringify(String(r.domain).slice(0, 40))}`);
  const rules = policy.rules[r.domain];
  if (r.metrics === null || typeof r.metrics !== 'object') unfilterable('reading has no metrics object');

  // Attributes: every one must be known and of its type (fail closed).
  const attrs = r.attributes ?? {};
  if (attrs === null || typeof attrs !== 'object') unfilterable('attributes must be an object');
  let isPersonal = r.kind !== undefined && policy.personalKinds.has(r.kind);
  const personalValues: string[] = [];
  for (const k of Object.keys(attrs)) {
    const def = Object.prototype.hasOwnProperty.call(ATTRIBUTES, k) ? ATTRIBUTES[k] : undefined;
    if (!def) unfilterable(`unknown attribute ${JSON.stringify(k.slice(0, 64))}`);
    const v = attrs[k];
    if (typeof v !== def.type) unfilterable(`attribute ${k} must be a ${def.type}`);
    if (def.personal && !FREE_TEXT_ATTRIBUTES.has(k)) {
      isPersonal = true;
      if (typeof v === 'string') personalValues.push(v);
    }
  }
  if (attrs.at_home === true) isPersonal = true;

  // Metrics.
  const metrics: Record<string, number> = {};
  let kept = 0;
  let aggregated: number | undefined;
  for (const name of Object.keys(r.metrics)) {
    const rule = rules.metrics.get(name);
    if (!rule) unfilterable(metricDef(name) ? `metric ${name} does not belong to domain ${r.domain}` : `unknown metric ${JSON.stringify(name.slice(0, 64))}`);
    const value = r.metrics[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) unfilterable(`metric ${name} is not a finite number`);
    if (rule.op === 'keep') {
      metrics[name] = value;
      kept++;
    } else if (rule.op === 'aggregate') aggregated = value;
    else actions('dropped');
  }

  if (aggregated !== undefined) {
    const h = policy.households!;
    const household = attrs.household_id;
    const area = attrs.area;
    if (typeof household !== 'string' || household.trim() === '') unfilterable(`a ${h.metric} reading needs attributes.household_id`);
    if (typeof area !== 'string') unfilterable(`a ${h.metric} reading needs attributes.area`);
    // The area names a published series: it must be a neighbourhood, not an address or a name.
    const areaCheck = scrubText(area, [household], env.names ? { names: env.names } : {});
    if (areaCheck.removed > 0) {
      countScrubbed(env, areaCheck.byKind);
      unfilterable('attributes.area holds personal details (an address, a postcode, coordinates or a name): it cannot name a published group');
    }
    const slug = areaSlug(area, 64 - h.sensorPrefix.length);
    if (!slug || !ID_PATTERN.test(h.sensorPrefix + slug)) unfilterable('attributes.area has no letters or digits to name its group');
    if (!Number.isSafeInteger(r.ts)) unfilterable('ts must be integer epoch ms');
    // Nothing else of a household reading is published: it is household-level data.
    if (kept > 0) actions('dropped', kept);
    actions('aggregated');
    return { type: 'household', contribution: { hub: r.hub, area: slug, household, ts: r.ts, value: aggregated } };
  }
  if (kept === 0) return { type: 'withheld', reason: 'no metric of the reading may be published' };

  const out: StoredReading = { hub: r.hub, domain: r.domain, sensor: r.sensor, site: r.site, kind: r.kind, ts: r.ts, seq: r.seq, metrics, policy: policy.version };

  // Time.
  const step = isPersonal ? rules.personalTimeMs : rules.timeMs;
  if (step > 0) {
    if (!Number.isSafeInteger(r.ts)) unfilterable('ts must be integer epoch ms');
    out.ts = Math.floor(r.ts / step) * step;
    actions('time_coarsened');
  }

  // Species (free text from apps: scrubbed like a note) and sensitive taxa.
  let sensitive = false;
  if (r.species !== undefined) {
    if (typeof r.species !== 'string') unfilterable('species must be a string');
    const s = scrubText(r.species, personalValues, env.names ? { names: env.names } : {});
    out.species = s.text;
    if (s.removed) actions('scrubbed');
    countScrubbed(env, s.byKind);
    sensitive = policy.sensitive !== undefined && isSensitiveTaxon(r.species, policy.sensitive.species);
  }

  // Location: the coarsest rule that applies wins.
  if (r.location !== undefined) {
    const { lat, lon } = r.location ?? ({} as LatLon);
    if (typeof lat !== 'number' || typeof lon !== 'number' || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180)) unfilterable('location is not a latitude and longitude');
    let rule = isPersonal ? rules.personalLocation : rules.location;
    if (sensitive && policy.sensitive!.rule.size >= rule.size) rule = policy.sensitive!.rule;
    const loc = applyLocation(rule, { lat, lon });
    if (loc) out.location = loc;
    if (!loc) actions('location_withheld');
    else if (sensitive && rule === policy.sensitive!.rule) actions('generalised');
    else if (rule.kind !== 'keep') actions('coarsened');
  }

  // Attributes.
  const outAttrs: Record<string, string | number | boolean> = {};
  let n = 0;
  for (const k of Object.keys(attrs)) {
    const res = rules.attributes.get(k)!.fn({ value: attrs[k] as string | number | boolean, personalValues, ...(env.names ? { names: env.names } : {}) });
    if (res.action) actions(res.action);
    countScrubbed(env, res.scrubbed);
    if (res.keep) {
      outAttrs[k] = res.value;
      n++;
    }
  }
  if (n) out.attributes = outAttrs;
  return { type: 'record', record: out };
}
