/**
 * The privacy audit helper: `expectNoPersonalData(output, knownPersonal)` serialises anything an
 * output produced (MQTT payloads, API bodies, stored rows, log lines, error messages) and fails if
 * any known personal value appears in it. Reusable by every test of every output.
 *
 * Matching is case-insensitive, on the text as serialised and on its JSON-unescaped and
 * URL-decoded forms, so a value hidden in a JSON string, a query string or a topic is found too.
 * Exact coordinates are given as decimal strings at the precision that must not appear
 * ({@link exactCoordinate}).
 */
import { inspect } from 'node:util';

/** One occurrence of a personal value. */
export interface PersonalFinding {
  value: string;
  /** Where it was found: which serialisation, and the text around it. */
  where: string;
  context: string;
}

/** Values shorter than this would match by chance (inside pseudonyms, numbers…): refused as needles. */
export const MIN_NEEDLE_LENGTH = 4;

/**
 * A coordinate as the decimal string that must not appear: truncated (not rounded) to `decimals`
 * places, because a serialised longer value begins with exactly that text (`51.50735` contains
 * `51.5073`). Five decimals is about 1 m, four about 11 m, three about 110 m.
 */
export function exactCoordinate(value: number, decimals = 4): string {
  const neg = value < 0;
  const abs = Math.abs(value);
  const factor = 10 ** decimals;
  const t = Math.floor(abs * factor + 1e-7) / factor;
  return `${neg ? '-' : ''}${t.toFixed(decimals)}`;
}

function collectStrings(v: unknown, out: string[], seen: Set<unknown>, depth = 0): void {
  if (depth > 50 || v === null || v === undefined) return;
  if (typeof v === 'string') {
    out.push(v);
    return;
  }
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
    out.push(String(v));
    return;
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    out.push(Buffer.from(v).toString('utf8'));
    return;
  }
  if (typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Error) {
    out.push(v.name, v.message, v.stack ?? '');
    collectStrings((v as Error & { cause?: unknown }).cause, out, seen, depth + 1);
    for (const k of Object.keys(v)) collectStrings((v as unknown as Record<string, unknown>)[k], out, seen, depth + 1);
    return;
  }
  if (v instanceof Map) {
    for (const [k, x] of v) {
      collectStrings(k, out, seen, depth + 1);
      collectStrings(x, out, seen, depth + 1);
    }
    return;
  }
  if (v instanceof Set || Array.isArray(v)) {
    for (const x of v) collectStrings(x, out, seen, depth + 1);
    return;
  }
  for (const k of Object.keys(v)) {
    out.push(k);
    collectStrings((v as Record<string, unknown>)[k], out, seen, depth + 1);
  }
}

/** The serialisations of an output that are searched. */
export function serialiseForAudit(output: unknown): Array<{ where: string; text: string }> {
  const forms: Array<{ where: string; text: string }> = [];
  if (typeof output === 'string') forms.push({ where: 'text', text: output });
  else if (Buffer.isBuffer(output) || output instanceof Uint8Array) forms.push({ where: 'bytes (utf8)', text: Buffer.from(output).toString('utf8') });
  else {
    try {
      forms.push({ where: 'JSON', text: JSON.stringify(output, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '' });
    } catch {
      // circular: the other forms cover it
    }
    forms.push({ where: 'inspect', text: inspect(output, { depth: 20, breakLength: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity }) });
  }
  const leaves: string[] = [];
  collectStrings(output, leaves, new Set());
  forms.push({ where: 'values', text: leaves.join('\n') });
  // Decoded forms: a value escaped in JSON text, or percent-encoded in a URL or topic.
  for (const f of [...forms]) {
    const unescaped = f.text.replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\(["\\/])/g, '$1');
    if (unescaped !== f.text) forms.push({ where: `${f.where}, JSON-unescaped`, text: unescaped });
    let decoded: string | undefined;
    try {
      decoded = decodeURIComponent(f.text.replace(/\+/g, ' '));
    } catch {
      decoded = undefined;
    }
    if (decoded !== undefined && decoded !== f.text) forms.push({ where: `${f.where}, URL-decoded`, text: decoded });
  }
  return forms;
}

/** An ISO 8601 time (lower-cased, as the audit searches), e.g. `2026-12-04t08:36:57.125z`. */
const ISO_TIME = /\d{4}-\d{2}-\d{2}t\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:z|[+-]\d{2}:\d{2})?/g;

/** Every occurrence of a known personal value in `output` (empty when clean). */
export function findPersonalData(output: unknown, knownPersonal: readonly string[]): PersonalFinding[] {
  const needles = [...new Set(knownPersonal.map((v) => v.normalize('NFC')))];
  for (const n of needles) {
    if (n.length < MIN_NEEDLE_LENGTH) throw new Error(`known personal value ${JSON.stringify(n)} is shorter than ${MIN_NEEDLE_LENGTH} characters: it would match by chance; use a more distinctive test value`);
  }
  const findings: PersonalFinding[] = [];
  const seen = new Set<string>();
  for (const form of serialiseForAudit(output)) {
    // ISO timestamps are masked: a reading taken at 08:36:57.125Z does not leak the coordinate 57.125.
    const hay = form.text.normalize('NFC').toLowerCase().replace(ISO_TIME, (t) => '#'.repeat(t.length));
    for (const n of needles) {
      const i = hay.indexOf(n.toLowerCase());
      if (i < 0 || seen.has(n)) continue;
      seen.add(n);
      findings.push({ value: n, where: form.where, context: form.text.slice(Math.max(0, i - 60), i + n.length + 60) });
    }
  }
  return findings;
}

/**
 * Fails (throws an Error listing every value found, where, and the text around it) if any known
 * personal value appears in `output`.
 *
 * @param output - a string, a Buffer, or any object (records, responses, rows, log lines, errors)
 * @param knownPersonal - values that must not appear: emails, names, household ids, phone
 *   numbers, and exact coordinates as {@link exactCoordinate} strings; at least 4 characters each
 * @param label - names the output in the failure message
 */
export function expectNoPersonalData(output: unknown, knownPersonal: readonly string[], label = 'output'): void {
  const found = findPersonalData(output, knownPersonal);
  if (found.length === 0) return;
  const lines = found.map((f) => `  - ${JSON.stringify(f.value)} in ${f.where}: …${f.context}…`);
  throw new Error(`personal data in ${label}:\n${lines.join('\n')}`);
}
