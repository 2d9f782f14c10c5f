/**
 * The policy in plain language, for residents (`GET /api/v1/privacy/policy`), and in a
 * machine-readable form (the validated policy file plus every field's effective rule).
 */
import { ATTRIBUTES, METRICS } from '../core/catalogue.ts';
import { DOMAINS, type Domain } from '../core/ids.ts';
import { VALUE_FILTERS } from './filters/all.ts';
import { FREE_TEXT_ATTRIBUTES } from './filters/types.ts';
import { describeDegrees } from './geo.ts';
import { bestGuessProbability } from './households.ts';
import type { CompiledPolicy, LocationRule, PolicyDocument } from './policy.ts';

/** One section of the explanation. */
export interface ExplanationSection {
  topic: string;
  text: string;
}

/** Effective rules of one domain, machine-readable. */
export interface EffectiveDomainRules {
  attributes: Record<string, string>;
  metrics: Record<string, string>;
  location: string;
  personalLocation: string;
  /** Rounding of timestamps, ms (0 = exact). */
  timeMs: number;
  personalTimeMs: number;
}

/** What `GET /api/v1/privacy/policy` answers. */
export interface PolicyExplanation {
  version: string;
  title: string;
  /** Plain-language summary, one paragraph. */
  summary: string;
  sections: ExplanationSection[];
  /** The policy file as validated (keys are named by id; no secret is ever in it). */
  policy: PolicyDocument;
  /** Every attribute and metric of every domain with the rule that applies to it. */
  effective: Record<Domain, EffectiveDomainRules>;
}

function locationText(r: LocationRule): string {
  switch (r.kind) {
    case 'keep':
      return 'published as measured';
    case 'withhold':
      return 'not published';
    case 'grid':
      return `rounded to a grid of ${r.step}° (${describeDegrees(r.step)})`;
    case 'geohash':
      return `rounded to a geohash cell of ${r.precision} characters (${describeDegrees(r.size)} or more)`;
  }
}

function locationCode(r: LocationRule): string {
  switch (r.kind) {
    case 'keep':
    case 'withhold':
      return r.kind;
    case 'grid':
      return `grid:${r.step}`;
    case 'geohash':
      return `geohash:${r.precision}`;
  }
}

function minutes(ms: number): string {
  if (ms === 86_400_000) return 'day';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hour${ms === 3_600_000 ? '' : 's'}`;
  if (ms % 60_000 === 0) return `${ms / 60_000} minutes`;
  return `${ms / 1000} seconds`;
}

const DOMAIN_NAMES: Record<Domain, string> = { water: 'water', soil: 'soil', energy: 'energy', biodiversity: 'wildlife (biodiversity)' };

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;

/** The household guarantee in plain words. */
export function householdText(h: NonNullable<CompiledPolicy['households']>): string {
  const per = minutes(h.windowMs);
  const scale = Math.round(h.maxLoadW / h.epsilonPerWindow);
  return [
    `The electricity use of a single household is never stored or published. It is added up per neighbourhood area for each ${per === 'day' ? 'day (UTC)' : `period of ${per}`}, and random noise is added to every total before it is published (differential privacy, ε = ${h.epsilonPerDay} per household per day; each household's average counts at most ${h.maxLoadW} W; the noise is Laplace noise of scale ${scale} W).`,
    `What this guarantees: someone who sees every published total, and even knows the meter readings of every other home, cannot tell which of two possible days a household had — whether its average use was some amount or up to ${h.maxLoadW} W more, or whether it took part at all — correctly more than ${pct(bestGuessProbability(h.epsilonPerDay))} of the time, where a blind guess gets 50%. Comparing totals of different periods or areas does not help: no household takes part in totals worth more than ε = ${h.epsilonPerDay} in one day (beyond that it is left out), and a published total is never revised.`,
    `Under this, the 15/15 rule: a total is published only when at least ${h.minHouseholds} households contributed and none of them used more than ${pct(h.maxShare)} of it; otherwise nothing is published for that area and period. Whether a total is published at all is decided on the exact numbers and is not hidden by the noise. The noise makes small areas' totals rough: it is about ${scale} W either way, whatever the area's size.`,
  ].join(' ');
}

/** Explains a compiled policy. */
export function explainPolicy(p: CompiledPolicy): PolicyExplanation {
  const sections: ExplanationSection[] = [];
  const effective = {} as Record<Domain, EffectiveDomainRules>;
  for (const d of DOMAINS) {
    const r = p.rules[d];
    effective[d] = {
      attributes: Object.fromEntries([...r.attributes].map(([k, v]) => [k, v.op])),
      metrics: Object.fromEntries([...r.metrics].map(([k, v]) => [k, v.op])),
      location: locationCode(r.location),
      personalLocation: locationCode(r.personalLocation),
      timeMs: r.timeMs,
      personalTimeMs: r.personalTimeMs,
    };
  }

  // People: what happens to each personal attribute, grouped by operation (rules of all domains).
  const byOp = new Map<string, Set<string>>();
  for (const d of DOMAINS)
    for (const [k, v] of p.rules[d].attributes) {
      if (!ATTRIBUTES[k]?.personal) continue;
      const s = byOp.get(v.op) ?? new Set<string>();
      s.add(k);
      byOp.set(v.op, s);
    }
  const describe = (k: string): string =>
    (ATTRIBUTES[k]?.description ?? k)
      .replace(/\s*\(.*\)$/, '')
      .replace(/^Citizen /, '')
      .replace(/^./, (c) => c.toLowerCase());
  const dropped = [...(byOp.get('drop') ?? [])].filter((k) => !FREE_TEXT_ATTRIBUTES.has(k));
  if (dropped.length) sections.push({ topic: 'Names and contact details', text: `These are removed before anything is stored for dashboards or published: ${list(dropped.map(describe))}.` });
  const pseud = [...(byOp.get('pseudonymise') ?? [])];
  if (pseud.length)
    sections.push({
      topic: 'Codes instead of identifiers',
      text: `${list(pseud.map(describe)).replace(/^./, (c) => c.toUpperCase())} ${pseud.length > 1 ? 'are' : 'is'} replaced by a code computed with a secret key of the hub (key "${p.document.pseudonymKey}"). Records with the same code belong together, but the code cannot be turned back into the identifier, and all codes change when the hub changes its key.`,
    });
  const scrubbed = [...(byOp.get('scrub') ?? [])].filter((k) => FREE_TEXT_ATTRIBUTES.has(k));
  const freeDropped = [...(byOp.get('drop') ?? [])].filter((k) => FREE_TEXT_ATTRIBUTES.has(k));
  const freeText: string[] = [];
  if (freeDropped.length) freeText.push(`Text people type (${list(freeDropped.map(describe))}) is not published: it stays with the hub's raw data.`);
  if (scrubbed.length)
    freeText.push(
      `${list(scrubbed.map(describe)).replace(/^./, (c) => c.toUpperCase())} ${scrubbed.length > 1 ? 'are' : 'is'} published only after street addresses, postcodes, coordinates in any notation, web links, email addresses, phone numbers, the names of everyone the hub knows and every word that looks like a name are removed.`,
    );
  freeText.push('Species names, and words a device sends such as an area or a firmware version, are published only when none of these is found in them.');
  sections.push({ topic: 'Free text', text: freeText.join(' ') });

  // Households.
  const h = p.households;
  const personalMetrics = Object.values(METRICS).filter((m) => m.personal);
  if (h) {
    sections.push({
      topic: 'Household energy',
      text: householdText(h),
    });
  }
  const droppedMetrics = personalMetrics.filter((m) => DOMAINS.every((d) => p.rules[d].metrics.get(m.name)?.op !== 'aggregate'));
  if (droppedMetrics.length) sections.push({ topic: 'Personal measurements', text: `Not published at all: ${list(droppedMetrics.map((m) => m.description.replace(/ \(personal\)$/, '')))}.` });

  // Places.
  const places: string[] = [];
  const groups = new Map<string, Domain[]>();
  for (const d of DOMAINS) {
    const t = locationText(p.rules[d].location);
    groups.set(t, [...(groups.get(t) ?? []), d]);
  }
  for (const [t, ds] of groups) places.push(`Locations of ${list(ds.map((d) => DOMAIN_NAMES[d]))} sensors are ${t}.`);
  const personalGroups = new Map<string, Domain[]>();
  for (const d of DOMAINS) {
    const t = locationText(p.rules[d].personalLocation);
    personalGroups.set(t, [...(personalGroups.get(t) ?? []), d]);
  }
  const kinds = [...p.personalKinds];
  const kindText = kinds.length ? `, and of every reading of a sensor of kind ${list(kinds).replace(/ and (?=[^ ]+$)/, ' or ')} whatever it carries,` : '';
  for (const [t, ds] of personalGroups)
    places.push(`Locations at a home, of observations sent by residents${kindText} are ${t}${personalGroups.size > 1 ? ` (${list(ds.map((d) => DOMAIN_NAMES[d]))})` : ''}.`);
  sections.push({ topic: 'Places', text: places.join(' ') });

  if (p.sensitive && p.document.sensitiveTaxa) {
    const n = p.document.sensitiveTaxa.species.length;
    sections.push({
      topic: 'Sensitive species',
      text:
        p.sensitive.action === 'withhold'
          ? `For ${n} sensitive species and groups (rare or threatened, or sought by collectors), no location is published.`
          : `For ${n} sensitive species and groups (rare or threatened, or sought by collectors), locations are generalised to a cell of ${p.document.sensitiveTaxa.grid}° (${describeDegrees(p.document.sensitiveTaxa.grid)}), as iNaturalist and GBIF do. The list is part of the machine-readable policy below.`,
    });
  }

  const times: string[] = [];
  for (const d of DOMAINS) {
    const r = p.rules[d];
    if (r.timeMs) times.push(`Times of ${DOMAIN_NAMES[d]} readings are rounded down to ${minutes(r.timeMs)}.`);
    if (r.personalTimeMs && r.personalTimeMs !== r.timeMs) times.push(`Times of ${DOMAIN_NAMES[d]} readings at a home or by a resident are rounded down to ${minutes(r.personalTimeMs)}.`);
  }
  if (times.length) sections.push({ topic: 'Times', text: times.join(' ') });

  sections.push({
    topic: 'Everything else',
    text: `Measurements of the commons (water levels, rainfall, soil carbon, generation, battery charge, species detections…) are open data. Anything the hub does not recognise is not published. Every published record names the policy version that produced it: ${p.version}.`,
  });

  const used = new Set<string>();
  for (const d of DOMAINS) for (const v of p.rules[d].attributes.values()) if (v.op !== 'keep') used.add(v.op);
  const ops = [...VALUE_FILTERS.keys()].filter((k) => used.has(k)).join(', ');
  return {
    version: p.version,
    title: p.document.title ?? 'Privacy policy',
    summary: `${p.document.description ?? 'What this hub publishes and what it keeps private.'} This is policy ${p.version}. Operations used: ${ops ? `${ops}, ` : ''}location rounding${h ? ', household aggregation' : ''}.`,
    sections,
    policy: p.document,
    effective,
  };
}

/** The explanation as plain text (for `?format=text`). */
export function explanationText(e: PolicyExplanation): string {
  return [`${e.title} (version ${e.version})`, '', e.summary, '', ...e.sections.flatMap((s) => [`${s.topic}`, `  ${s.text}`, ''])].join('\n');
}
