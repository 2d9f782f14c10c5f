/**
 * Scrubbing of free text (notes): links, email addresses (also written "name [at] host [dot] org"),
 * phone numbers, precise coordinates, and the personal values the same reading carries (the
 * observer's name, email, phone, household id) are replaced by a marker. Over-scrubbing is the
 * safe failure: a note that loses a harmless number is better than one that keeps a phone number.
 */

/** Markers that replace what was removed. */
export const SCRUB_MARKERS = {
  link: '[link removed]',
  email: '[email removed]',
  phone: '[phone removed]',
  coordinates: '[location removed]',
  name: '[name removed]',
} as const;

const URL_RE = /\b(?:https?|ftp|mailto):\/?\/?[^\s<>"']+|\bwww\.[^\s<>"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|info|io|co|uk|de|fr|nl|eu|app|me|ly|be|ch|at|es|it|se|no|dk|fi|ie|pl|pt|au|nz|ca|us|ru|br|jp|cn|in|za)\b(?:\/[^\s<>"']*)?/gi;
const EMAIL_RE = /[a-z0-9._%+\-!#$&'*/=?^`{|}~]+\s*(?:@|\(at\)|\[at\]|\{at\})\s*[a-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\})\s*[a-z0-9-]+)+/gi;
/** "alice at example dot org": spelled out, both words needed. */
const SPELLED_EMAIL_RE = /[a-z0-9._%+-]+\s+at\s+[a-z0-9-]+(?:\s+dot\s+[a-z0-9-]+)+/gi;
/** Decimal degrees with 3 or more decimals (about 100 m or finer), alone or as a pair. */
const COORD = String.raw`[-+]?\d{1,3}\.\d{3,}(?:\s?°)?(?:\s?[NSEW]\b)?`;
const COORD_RE = new RegExp(`${COORD}(?:\\s*[,;]?\\s*${COORD})?`, 'gi');
/** Candidate phone numbers: runs of digits and separators with 7 digits or more. */
const PHONE_RE = /(?:(?:\+|\b00)\s?)?\(?\d[\d\s()./-]{5,}\d/g;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const MARKER_SPLIT = new RegExp(`(${Object.values(SCRUB_MARKERS).map((m) => m.replace(/[[\]]/g, '\\$&')).join('|')})`);

/** What a scrub removed. */
export interface ScrubResult {
  text: string;
  /** Number of replacements made. */
  removed: number;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Scrubs free text.
 *
 * @param text - the text
 * @param personalValues - personal values of the same reading to remove too (case-insensitive);
 *   a multi-word value (a name) is also removed word by word (words of 3 characters or more)
 */
export function scrubText(text: string, personalValues: readonly string[] = []): ScrubResult {
  let removed = 0;
  const sub = (re: RegExp, marker: string, keep?: (m: string) => boolean) => (s: string) =>
    s.replace(re, (m) => {
      if (keep?.(m)) return m;
      removed++;
      return marker;
    });
  let out = text.normalize('NFC');
  out = sub(EMAIL_RE, SCRUB_MARKERS.email)(out);
  out = sub(SPELLED_EMAIL_RE, SCRUB_MARKERS.email)(out);
  out = sub(URL_RE, SCRUB_MARKERS.link)(out);
  out = sub(COORD_RE, SCRUB_MARKERS.coordinates)(out);
  out = sub(PHONE_RE, SCRUB_MARKERS.phone, (m) => {
    const digits = m.replace(/\D/g, '').length;
    // Longer runs are scrubbed too: a phone number followed by more digits is still a phone number.
    return digits < 7 || ISO_DATE.test(m.trim());
  })(out);
  // Then the personal values of the reading (names, ids) that no pattern knows.
  const needles = new Set<string>();
  for (const v of personalValues) {
    const t = v.trim();
    if (t.length < 3) continue;
    needles.add(t);
    for (const w of t.split(/[\s,;]+/)) if (w.length >= 3) needles.add(w);
  }
  if (needles.size) {
    const re = new RegExp([...needles].sort((a, b) => b.length - a.length).map(escapeRe).join('|'), 'giu');
    // Markers already in the text are left alone (a name like "Removed" must not eat them).
    out = out
      .split(MARKER_SPLIT)
      .map((part, i) => (i % 2 === 1 ? part : sub(re, SCRUB_MARKERS.name)(part)))
      .join('');
  }
  return { text: out, removed };
}
