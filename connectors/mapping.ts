/**
 * Mapping profiles, one YAML file per device profile: which decoded field becomes which catalogue
 * metric in which unit, which timestamp a reading carries, where its sequence number comes from,
 * and which devices the profile applies to. Validated with zod; every error names the file and
 * the field. `steward connect check` runs the same validation.
 * @module
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { metricDef } from '../core/catalogue.ts';
import { idSchema } from '../core/ids.ts';
import { toCanonical } from '../core/units.ts';
import type { Uplink } from './types.ts';
import { parseTime } from './types.ts';

const path = z.string().regex(/^[^.\s][^\s]*$/, 'a field path: names separated by dots, e.g. soil.moisture');

const fieldSchema = z.strictObject({
  /** Catalogue metric (core/catalogue.ts). */
  metric: z.string().min(1),
  /** Unit the device reports in (SenML symbols and the spellings of core/units.ts); default: canonical. */
  unit: z.string().min(1).max(32).optional(),
  /** Multiplies the value before the unit is applied (raw counts of a decoder). */
  scale: z.number().finite().optional(),
});

export const profileSchema = z
  .strictObject({
    name: idSchema,
    description: z.string().optional(),
    /** Which uplinks the profile applies to (any of): a device is matched before a device profile, a device profile before a source. */
    match: z
      .strictObject({
        /** ChirpStack `deviceInfo.deviceProfileName`, The Things Stack `version_ids.model_id`. */
        deviceProfiles: z.array(z.string().min(1)).optional(),
        /** DevEUIs or device names. */
        devices: z.array(z.string().min(1)).optional(),
        /** Source names of `connectors.sources`. */
        sources: z.array(z.string().min(1)).optional(),
      })
      .refine((m) => (m.deviceProfiles?.length ?? 0) + (m.devices?.length ?? 0) + (m.sources?.length ?? 0) > 0, 'name at least one of deviceProfiles, devices, sources'),
    /** `network`: when the network server received the uplink (same for every gateway and retry); `device`: a decoded field. */
    timestamp: z.enum(['network', 'device']).default('network'),
    /** With `timestamp: device`: the decoded field holding the time (ISO 8601, epoch s or ms). */
    timeField: path.optional(),
    /** The decoded field holding a sequence number; default: the LoRaWAN frame counter. */
    seqField: path.optional(),
    /** The device's own reported position (a GPS tracker, a surveyed install): decoded field paths. Handled by the privacy policy of the sensor's kind like any location. */
    location: z.strictObject({ lat: path, lon: path, alt: path.optional() }).optional(),
    /** decoded field path -> metric. */
    fields: z.record(path, fieldSchema).refine((f) => Object.keys(f).length > 0, 'map at least one field'),
    /** Decoded fields known and deliberately not kept (battery voltage…): not reported as unmapped. */
    ignore: z.array(path).default([]),
  })
  .superRefine((p, ctx) => {
    if (p.timestamp === 'device' && !p.timeField) ctx.addIssue({ code: 'custom', path: ['timeField'], message: 'timestamp: device needs the decoded field that holds the time' });
    const domains = new Set<string>();
    for (const [field, f] of Object.entries(p.fields)) {
      const def = metricDef(f.metric);
      if (!def) {
        ctx.addIssue({ code: 'custom', path: ['fields', field, 'metric'], message: `"${f.metric}" is not a catalogue metric (core/catalogue.ts)` });
        continue;
      }
      domains.add(def.domain);
      const c = toCanonical(1, f.unit, def.unit);
      if (!c.ok) ctx.addIssue({ code: 'custom', path: ['fields', field, 'unit'], message: `${c.reason} of ${f.metric}` });
    }
    if (domains.size > 1) ctx.addIssue({ code: 'custom', path: ['fields'], message: `metrics of one profile belong to one domain; these span ${[...domains].join(', ')}` });
  });
export type Profile = z.output<typeof profileSchema> & { file: string; domain: string };

/** Bad profiles: one line per problem, each naming file and field. */
export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** The YAML files a list of files and directories names (directories: their *.yaml and *.yml, sorted). */
export function profileFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new ProfileError([`${p}: cannot read: ${(e as Error).message}`]);
    }
    if (st.isDirectory()) {
      for (const f of readdirSync(p).sort()) if (['.yaml', '.yml'].includes(extname(f))) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

/** Loads and validates every profile; throws ProfileError listing every problem. */
export function loadProfiles(paths: readonly string[]): Profile[] {
  const problems: string[] = [];
  const profiles: Profile[] = [];
  const names = new Map<string, string>();
  for (const file of profileFiles(paths)) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push(`${file}: not valid YAML: ${(e as Error).message}`);
      continue;
    }
    const r = profileSchema.safeParse(doc);
    if (!r.success) {
      for (const i of r.error.issues) problems.push(`${file}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
      continue;
    }
    const first = names.get(r.data.name);
    if (first) problems.push(`${file}: name: profile "${r.data.name}" is already defined in ${first}`);
    names.set(r.data.name, file);
    const domain = metricDef(Object.values(r.data.fields)[0]!.metric)!.domain;
    profiles.push({ ...r.data, file, domain });
  }
  if (problems.length) throw new ProfileError(problems);
  return profiles;
}

/** The profile for an uplink of `source`: device match, then device-profile match, then source match. */
export function chooseProfile(profiles: readonly Profile[], source: string, u: Uplink): Profile | undefined {
  const ids = [u.device.eui, u.device.name].filter((x): x is string => !!x).map((x) => x.toLowerCase());
  return (
    profiles.find((p) => p.match.devices?.some((d) => ids.includes(d.toLowerCase().replace(/[-:]/g, '')) || ids.includes(d.toLowerCase()))) ??
    (u.deviceProfile ? profiles.find((p) => p.match.deviceProfiles?.includes(u.deviceProfile!)) : undefined) ??
    profiles.find((p) => p.match.sources?.includes(source))
  );
}

/** Value at a dotted path of an object. */
export function at(obj: unknown, p: string): unknown {
  let cur = obj;
  for (const k of p.split('.')) {
    if (!cur || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Dotted paths of every leaf (non-object value) of an object. */
export function leafPaths(obj: unknown, prefix = ''): string[] {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) out.push(...leafPaths(v, prefix ? `${prefix}.${k}` : k));
  return out;
}

/** A problem with one field, reported once per profile. */
export interface FieldIssue {
  field: string;
  problem: 'unmapped' | 'not_a_number' | 'missing' | 'no_device_time';
  detail: string;
}

export interface Mapped {
  ts: number;
  seq: number;
  metrics: Record<string, { value: number; unit: string }>;
  location?: { lat: number; lon: number; alt?: number };
  issues: FieldIssue[];
}

/**
 * Maps one uplink with its profile: metrics with their units (converted to canonical by the
 * intake, as SenML units are), the timestamp and the sequence number. `receivedAt` stands in when
 * the network server gave no time.
 */
export function mapUplink(p: Profile, u: Uplink, receivedAt: number): Mapped {
  const issues: FieldIssue[] = [];
  const metrics: Mapped['metrics'] = {};
  for (const [field, f] of Object.entries(p.fields)) {
    const v = at(u.fields, field);
    if (v === undefined) {
      issues.push({ field, problem: 'missing', detail: `decoded field "${field}" (${f.metric}) is absent` });
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      issues.push({ field, problem: 'not_a_number', detail: `decoded field "${field}" (${f.metric}) is ${JSON.stringify(v)?.slice(0, 40)}, not a number; dropped` });
      continue;
    }
    const def = metricDef(f.metric)!;
    metrics[f.metric] = { value: Number((v * (f.scale ?? 1)).toPrecision(12)), unit: f.unit ?? def.unit };
  }
  let location: Mapped['location'];
  if (p.location) {
    const lat = at(u.fields, p.location.lat);
    const lon = at(u.fields, p.location.lon);
    const alt = p.location.alt ? at(u.fields, p.location.alt) : undefined;
    if (typeof lat === 'number' && typeof lon === 'number' && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) location = { lat, lon, ...(typeof alt === 'number' ? { alt } : {}) };
    else issues.push({ field: p.location.lat, problem: 'not_a_number', detail: `decoded fields "${p.location.lat}"/"${p.location.lon}" hold no position; the reading goes without one` });
  }
  const known = new Set([...Object.keys(p.fields), ...p.ignore, ...(p.timeField ? [p.timeField] : []), ...(p.seqField ? [p.seqField] : []), ...(p.location ? Object.values(p.location) : [])]);
  for (const leaf of leafPaths(u.fields)) {
    if (known.has(leaf) || [...known].some((k) => leaf.startsWith(`${k}.`))) continue;
    issues.push({ field: leaf, problem: 'unmapped', detail: `decoded field "${leaf}" is not mapped by profile ${p.name} (map it under fields or list it under ignore)` });
  }
  let ts = u.networkTime ?? receivedAt;
  if (p.timestamp === 'device') {
    const t = parseTime(at(u.fields, p.timeField!));
    if (t === undefined) issues.push({ field: p.timeField!, problem: 'no_device_time', detail: `decoded field "${p.timeField}" holds no time; the network server's time is used` });
    else ts = t;
  }
  let seq = u.fCnt ?? 0;
  if (p.seqField) {
    const s = at(u.fields, p.seqField);
    if (typeof s === 'number' && Number.isInteger(s) && s >= 0) seq = s;
    else issues.push({ field: p.seqField, problem: 'not_a_number', detail: `decoded field "${p.seqField}" holds no sequence number; the frame counter is used` });
  }
  return { ts, seq, metrics, issues, ...(location ? { location } : {}) };
}
