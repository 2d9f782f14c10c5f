/**
 * Scrubbing of free text (notes, species names from apps, areas): what could identify a person or
 * a place is replaced by a marker naming its kind. Over-scrubbing is the safe failure: a note that
 * loses a harmless word is better than one that keeps a name.
 *
 * Everything is matched on a *folded* view of the text, so every Unicode normalisation form (NFC,
 * NFD, NFKC, NFKD), accents, compatibility forms (full-width digits, ligatures) and invisible
 * characters (zero-width spaces, soft hyphens) are the same to every pattern and every known name:
 * the view is the text decomposed (NFKD), without combining marks and format characters, with a
 * few letters spelled out (ß → ss, æ → ae, ø → o, ł → l …). Spans found in the view are mapped back
 * to the original, which is published in NFC with the markers in place.
 *
 * Kinds: `email` (also "a [at] b [dot] c", "a at b dot c"), `link` (URLs, bare domains,
 * what3words), `phone` (7 digits or more), `coordinates` (decimal degrees, degrees-minutes-seconds,
 * degrees and decimal minutes, "lat/lon" values, UK grid references, plus codes), `postcode` (UK,
 * US ZIP, Irish Eircode, and the EU formats: 4 and 5 digits, NL, PL, PT, SE/CZ/SK, country
 * prefixed), `address` (house numbers with a street word in English, German, Dutch, Nordic,
 * French, Italian, Spanish and Portuguese; flats, units, PO boxes), `name` (every name the caller
 * knows, whole and word by word in any case, and — with `namePatterns` — honorifics, possessives
 * and every capitalised word except a sentence's ordinary first word).
 */

/** What the scrubber removes, by kind (the `kind` label of `steward_privacy_scrubbed_total`). */
export const SCRUB_KINDS = ['email', 'link', 'phone', 'coordinates', 'postcode', 'address', 'name'] as const;
export type ScrubKind = (typeof SCRUB_KINDS)[number];

/** Markers that replace what was removed. */
export const SCRUB_MARKERS: Readonly<Record<ScrubKind, string>> = {
  email: '[email removed]',
  link: '[link removed]',
  phone: '[phone removed]',
  coordinates: '[location removed]',
  postcode: '[postcode removed]',
  address: '[address removed]',
  name: '[name removed]',
};

/** What a scrub removed. */
export interface ScrubResult {
  text: string;
  /** Number of replacements made. */
  removed: number;
  /** Replacements by kind (kinds with none are absent). */
  byKind: Partial<Record<ScrubKind, number>>;
}

/** Options of {@link scrubText}. */
export interface ScrubOptions {
  /** Names known to the hub (observers, account holders): removed whole and word by word. */
  names?: NameMatcher;
  /**
   * Also remove what looks like a name without being known: honorifics with a name, possessives,
   * and every capitalised word except an ordinary word opening a sentence. On for notes; off for
   * species names and areas, where capitals are part of the value.
   */
  namePatterns?: boolean;
}

// ---------------------------------------------------------------------------
// Folding
// ---------------------------------------------------------------------------

const SPELLED: Record<string, string> = { ß: 'ss', ẞ: 'SS', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', ø: 'o', Ø: 'O', ł: 'l', Ł: 'L', đ: 'd', Đ: 'D', ð: 'd', Ð: 'D', þ: 'th', Þ: 'TH', ı: 'i' };
const MARKS = /[\p{M}\p{Cf}]/gu;

/** Folds one string for matching (see the module comment); used for names too, so both sides match. */
export function fold(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFC')) out += foldChar(ch);
  return out;
}

function foldChar(ch: string): string {
  const spelled = SPELLED[ch];
  if (spelled !== undefined) return spelled;
  return ch.normalize('NFKD').replace(MARKS, '');
}

/** The folded view of a text, with the original span of every folded character. */
interface Folded {
  text: string;
  start: number[];
  end: number[];
}

function foldWithMap(original: string): Folded {
  let text = '';
  const start: number[] = [];
  const end: number[] = [];
  let i = 0;
  for (const ch of original) {
    const f = foldChar(ch);
    for (let k = 0; k < f.length; k++) {
      start.push(i);
      end.push(i + ch.length);
    }
    text += f;
    i += ch.length;
  }
  return { text, start, end };
}

// ---------------------------------------------------------------------------
// Patterns (on the folded view)
// ---------------------------------------------------------------------------

const TLD = 'com|org|net|edu|gov|info|io|co|uk|de|fr|nl|eu|app|me|ly|be|ch|at|es|it|se|no|dk|fi|ie|pl|pt|au|nz|ca|us|ru|br|jp|cn|in|za|biz|xyz|online|site';
const EMAIL_RE = /[a-z0-9._%+\-!#$&'*/=?^`{|}~]+\s*(?:@|\(at\)|\[at\]|\{at\}|<at>)\s*[a-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|<dot>)\s*[a-z0-9-]+)+/gi;
const SPELLED_EMAIL_RE = /[a-z0-9._%+-]+\s+at\s+[a-z0-9-]+(?:\s+dot\s+[a-z0-9-]+)+/gi;
const URL_RE = new RegExp(String.raw`\b(?:https?|ftp|mailto|geo):\/?\/?[^\s<>"']+|\bwww\.[^\s<>"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:${TLD})\b(?:\/[^\s<>"']*)?|\/{2,3}[a-z]+\.[a-z]+\.[a-z]+`, 'gi');

const DEG = String.raw`(?:°|˚|º|o|deg(?:rees?)?|d)`;
const MIN = String.raw`(?:'|′|’|‘|´|m(?:in)?)`;
const SEC = String.raw`(?:"|″|”|“|''|′′|s(?:ec)?)`;
const HEMI = String.raw`[NSEW](?![A-Za-z])`;
const NUM = String.raw`\d{1,3}(?:[.,]\d+)?`;
const COORD_PATTERNS = [
  // degrees with minutes (and seconds), any separators once a degree sign or a hemisphere is there
  String.raw`(?:${HEMI}\s*)?[-+]?\d{1,3}\s*${DEG}\s*\d{1,2}(?:[.,]\d+)?\s*${MIN}?\s*(?:\d{1,2}(?:[.,]\d+)?\s*${SEC}?)?\s*(?:${HEMI})?`,
  // 51:30:26N, 51 30 26 N, N 51 30.4 (a hemisphere letter is needed without a degree sign)
  String.raw`${HEMI}\s*\d{1,3}[\s:]+\d{1,2}(?:[.,]\d+)?(?:[\s:]+\d{1,2}(?:[.,]\d+)?)?`,
  String.raw`\d{1,3}[\s:]+\d{1,2}(?:[.,]\d+)?(?:[\s:]+\d{1,2}(?:[.,]\d+)?)?\s*${HEMI}`,
  // a pair of decimal numbers with 2+ decimals, or one with a degree sign or a hemisphere
  String.raw`[-+]?\d{1,3}[.,]\d{2,}\s*${DEG}?\s*(?:${HEMI})?\s*[,;/]?\s*[-+]?\d{1,3}[.,]\d{2,}\s*${DEG}?\s*(?:${HEMI})?`,
  String.raw`(?:${HEMI}\s*)?[-+]?${NUM}\s*(?:°|˚|º)(?!\s*[CFK](?![A-Za-z]))\s*(?:${HEMI})?`,
  String.raw`[-+]?\d{1,3}[.,]\d+\s*${HEMI}`,
  // any decimal number with 3+ decimals (about 100 m or finer)
  String.raw`[-+]?\d{1,3}[.,]\d{3,}`,
  // UK national grid reference, plus codes
  String.raw`\b[HNOST][A-HJ-Z]\s?\d{2,5}\s?\d{2,5}\b`,
  String.raw`\b[23456789CFGHJMPQRVWX]{4,8}\+[23456789CFGHJMPQRVWX]{2,3}\b`,
];
const COORD_RE = new RegExp(COORD_PATTERNS.join('|'), 'g');
/** lat=51.5, Longitude: -0.12 */
const LATLON_RE = new RegExp(String.raw`\b(?:lat(?:itude)?|lon(?:gitude)?|lng|long)\s*[:=]?\s*[-+]?${NUM}`, 'gi');

const POSTCODE_PATTERNS: Array<[string, string]> = [
  // UK (GIR 0AA and A9 9AA … AA9A 9AA), case-insensitive
  [String.raw`\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{2})\b`, 'gi'],
  // Ireland (Eircode)
  [String.raw`\b[AC-FHKNPRTV-Y]\d{2}\s?[0-9AC-FHKNPRTV-Y]{4}\b`, 'gi'],
  // US ZIP and ZIP+4, DE/FR/IT/ES 5 digits, with a state or country prefix too
  [String.raw`\b(?:[A-Z]{1,2}-)?\d{5}(?:-\d{4})?\b`, 'g'],
  // country-prefixed 4 digits (CH-8001, A-1010, B-1000, DK-2100)
  [String.raw`\b[A-Z]{1,3}-\d{4}\b`, 'g'],
  // NL 1234 AB; PL 12-345; PT 1234-567; SE/CZ/SK 123 45
  [String.raw`\b\d{4}\s?[A-Z]{2}\b`, 'g'],
  [String.raw`\b\d{2}-\d{3}\b`, 'g'],
  [String.raw`\b\d{4}-\d{3}\b`, 'g'],
  [String.raw`\b\d{3}\s\d{2}\b(?!\s*(?:\d|[.,]\d))`, 'g'],
  // 4 digits followed by a town (1010 Wien, 8001 Zurich, 2100 Kobenhavn, 3000 Leuven)
  [String.raw`\b\d{4}\s+\p{Lu}[\p{Ll}-]+`, 'gu'],
];
const POSTCODE_RES = POSTCODE_PATTERNS.map(([s, f]) => new RegExp(s, f));

const STREET_EN =
  'street|st|road|rd|lane|ln|avenue|ave|av|drive|dr|close|cl|way|court|ct|place|pl|crescent|cres|terrace|terr|boulevard|blvd|gardens|gdns|grove|row|hill|square|sq|mews|parkway|pkwy|highway|hwy|walk|park|green|rise|view|vale|circle|cir|trail|alley|wharf|quay|yard|cottages?|farm|estate|croft|fold|gate|bank|parade';
const STREET_PREFIX = 'rue|avenue|av|boulevard|bd|chemin|place|impasse|allee|quai|route|via|viale|piazza|piazzale|corso|vicolo|largo|calle|avenida|paseo|plaza|carrer|camino|rua|travessa|praca|estrada|ulica|ul|strada';
const STREET_SUFFIX = 'strasse|str\\.?|weg|gasse|platz|allee|ring|damm|ufer|chaussee|straat|laan|gracht|plein|steeg|kade|dijk|singel|vej|gade|gatan|gata|vagen|veien|vegen|tie|katu|utca|ulice';
const WORD = String.raw`[\p{L}'’.-]+`;
const ADDRESS_RES = [
  // 12 High Street, 221B Baker St., 3-5 Mill Lane
  new RegExp(String.raw`\b\d{1,5}[a-z]?(?:[-/]\d{1,5}[a-z]?)?,?\s+(?:${WORD}\s+){0,4}?(?:${STREET_EN})\b\.?`, 'giu'),
  // 12 rue de la Paix, via Roma 3, calle Mayor 5
  new RegExp(String.raw`\b(?:\d{1,5}[a-z]?,?\s+)?(?:${STREET_PREFIX})\.?\s+(?:${WORD}\s+){0,3}${WORD}(?:\s*,?\s*\d{1,5}[a-z]?\b)?`, 'giu'),
  // Hauptstrasse 12, Kerkstraat 4a, Storgatan 1, Maple Road 7
  new RegExp(String.raw`[\p{L}-]{2,}(?:${STREET_SUFFIX})\s*\d{1,5}[a-z]?\b`, 'giu'),
  new RegExp(String.raw`\b${WORD}\s+(?:${STREET_EN})\s*,?\s*\d{1,5}[a-z]?\b`, 'giu'),
  // Flat 3, Apt 4B, Unit 12, No. 5, PO Box 123, house number 7
  new RegExp(String.raw`\b(?:flat|apt|apartment|unit|suite|no\.?|nr\.?|number|house(?:\s+number)?|p\.?\s?o\.?\s+box|box)\s*#?\s*\d{1,5}[a-z]?\b`, 'gi'),
];

const PHONE_RE = /(?:(?:\+|\b00)\s?)?\(?\d[\d\s()./-]{5,}\d/g;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

const HONORIFIC_RE = /\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Rev|Herr|Frau|Fr|Mme|Mlle|Madame|Monsieur|Sr|Sra|Srta|Sig|Sig\.ra|Dott|Dhr|Mevr)\.?\s+\p{Lu}[\p{L}'’-]*(?:\s+\p{Lu}[\p{L}'’-]*)*/gu;
const CAPITALISED_RE = /(?<![\p{L}\p{N}])\p{Lu}[\p{L}'’-]*/gu;
/** Ordinary words a sentence may open with; any other capitalised word is taken for a name. */
const SENTENCE_STARTERS = new Set(
  `a an the this that these those there here it its i we he she they you my our your his her their one two three four five six seven eight nine ten
  several many some few no not none all both each every very lots about around approx approximately possible possibly probably maybe perhaps likely
  seen saw heard found spotted noted counted recorded observed watched photographed caught trapped flushed
  at in on near by from after before during under over behind beside between along across inside outside above below
  today yesterday tonight morning afternoon evening night dawn dusk early late again also still just only then now
  male female adult adults juvenile juveniles young pair pairs flock group nest nests egg eggs dead alive
  calling singing flying feeding foraging hunting resting swimming nesting breeding roosting
  large small big little first second third last new old high low wet dry cold warm hot sunny rainy windy cloudy
  water river pond lake stream field meadow wood woods hedge garden tree trees grass
  note notes please thanks thank ok yes no and but or so if when while as with without for to of call spot update mail email ring phone contact see`.split(/\s+/),
);

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/** Particles that are parts of names but ordinary words too: not removed on their own. */
const NAME_PARTICLES = new Set(['de', 'da', 'di', 'du', 'la', 'le', 'van', 'von', 'der', 'den', 'del', 'dos', 'das', 'y', 'e', 'of', 'the', 'and', 'st']);

/** Known names compiled for matching (folded, word by word). */
export interface NameMatcher {
  /** Number of distinct needles. */
  readonly size: number;
  /** Spans of known names in a folded text. */
  find(folded: string): Array<[number, number]>;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles names (and other personal values) for matching: each folded, whole and — for values
 * without digits or `@` (names, not phone numbers or emails) — word by word (words of 2 letters or
 * more, except particles such as "de" or "van"). Matching ignores case and stops at word edges.
 */
export function compileNames(values: Iterable<string>): NameMatcher {
  const needles = new Set<string>();
  for (const v of values) {
    const f = fold(v).trim().toLowerCase().replace(/\s+/g, ' ');
    if (f.length < 2) continue;
    needles.add(f);
    if (/[\d@]/.test(f)) continue;
    for (const w of f.split(/[^\p{L}\p{N}]+/u)) if (w.length >= 2 && !NAME_PARTICLES.has(w)) needles.add(w);
  }
  if (needles.size === 0) return { size: 0, find: () => [] };
  const alternatives = [...needles].sort((a, b) => b.length - a.length).map((n) => escapeRe(n).replace(/ /g, String.raw`\s+`));
  const re = new RegExp(String.raw`(?<![\p{L}\p{N}])(?:${alternatives.join('|')})(?![\p{L}\p{N}])`, 'giu');
  return {
    size: needles.size,
    find(folded) {
      const out: Array<[number, number]> = [];
      for (const m of folded.matchAll(re)) out.push([m.index, m.index + m[0].length]);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------
// Scrubbing
// ---------------------------------------------------------------------------

interface Span {
  start: number;
  end: number;
  kind: ScrubKind;
}

const MARKER_SPLIT = new RegExp(`(${Object.values(SCRUB_MARKERS).map(escapeRe).join('|')})`);

function collect(re: RegExp, text: string, kind: ScrubKind, out: Span[], keep?: (m: string) => boolean): void {
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].trim() === '' || keep?.(m[0])) continue;
    // Trailing spaces a pattern took are not part of what it found.
    const body = m[0].replace(/\s+$/, '');
    out.push({ start: m.index, end: m.index + body.length, kind });
  }
}

function isSentenceStart(text: string, at: number): boolean {
  const before = text.slice(0, at).replace(/[\s"'“”‘’([{<*_-]+$/, '');
  return before === '' || /[.!?:;\n]$/.test(before);
}

function findSpans(view: string, personal: NameMatcher, opts: ScrubOptions): Span[] {
  const spans: Span[] = [];
  collect(EMAIL_RE, view, 'email', spans);
  collect(SPELLED_EMAIL_RE, view, 'email', spans);
  collect(URL_RE, view, 'link', spans);
  collect(COORD_RE, view, 'coordinates', spans);
  collect(LATLON_RE, view, 'coordinates', spans);
  for (const re of ADDRESS_RES) collect(re, view, 'address', spans);
  for (const re of POSTCODE_RES) collect(re, view, 'postcode', spans);
  collect(PHONE_RE, view, 'phone', spans, (m) => m.replace(/\D/g, '').length < 7 || ISO_DATE.test(m.trim()));
  for (const [s, e] of personal.find(view)) spans.push({ start: s, end: e, kind: 'name' });
  for (const [s, e] of opts.names?.find(view) ?? []) spans.push({ start: s, end: e, kind: 'name' });
  if (opts.namePatterns) {
    collect(HONORIFIC_RE, view, 'name', spans);
    CAPITALISED_RE.lastIndex = 0;
    for (const m of view.matchAll(CAPITALISED_RE)) {
      const word = m[0].replace(/['’-]+$/, '');
      const plain = word.replace(/['’]s$/i, '');
      // One capital letter (I, an initial, °C) identifies nobody.
      if (plain.length === 1) continue;
      if (isSentenceStart(view, m.index) && SENTENCE_STARTERS.has(plain.toLowerCase())) continue;
      spans.push({ start: m.index, end: m.index + word.length, kind: 'name' });
    }
  }
  return spans;
}

/** Overlapping spans become one (the kind of the one that starts first, the longer on a tie); so do spans of one kind separated only by blanks and commas (a name and surname, a latitude and longitude). */
function mergeSpans(spans: Span[], view: string): Span[] {
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && (s.start < last.end || (s.kind === last.kind && /^[\s,;/-]*$/.test(view.slice(last.end, s.start))))) {
      last.end = Math.max(last.end, s.end);
      continue;
    }
    out.push({ ...s });
  }
  return out;
}

function scrubPart(part: string, personal: NameMatcher, opts: ScrubOptions, byKind: Partial<Record<ScrubKind, number>>): string {
  if (part === '') return part;
  const f = foldWithMap(part);
  const spans = mergeSpans(findSpans(f.text, personal, opts), f.text);
  if (!spans.length) return part;
  let out = '';
  let at = 0;
  for (const s of spans) {
    const from = f.start[s.start] ?? part.length;
    const to = f.end[s.end - 1] ?? part.length;
    if (from < at) continue;
    out += part.slice(at, from) + SCRUB_MARKERS[s.kind];
    at = to;
    byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
  }
  return out + part.slice(at);
}

/**
 * Scrubs free text.
 *
 * @param text - the text (any normalisation form); the result is NFC
 * @param personalValues - personal values of the same reading (observer name, email, phone,
 *   household id), removed like known names
 * @param opts - names the hub knows, and whether to remove what looks like a name
 * @returns the result; for a short text it is kept and shared, frozen (see below)
 */
export function scrubText(text: string, personalValues: readonly string[] = [], opts: ScrubOptions = {}): ScrubResult {
  if (text.length > CACHE_MAX_TEXT) return scrubUncached(text, personalValues, opts);
  const byNames = cacheOf(opts.names ?? NO_NAMES);
  const cache = opts.namePatterns ? byNames.patterns : byNames.plain;
  const key = personalValues.length ? JSON.stringify([text, personalValues]) : text;
  const hit = cache.get(key);
  if (hit) return hit;
  const r = scrubUncached(text, personalValues, opts);
  Object.freeze(r.byKind);
  if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, Object.freeze(r));
  return r;
}

/*
 * Results of short texts are kept: species names, areas and device tokens repeat on every reading.
 * A result depends only on the text, the reading's personal values, the known names (a matcher is
 * compiled again whenever a name is added, so a new matcher starts an empty cache) and the mode.
 * Cached results are frozen (callers only read them). Oldest entries go first when one is full.
 */
const CACHE_MAX_TEXT = 256;
const CACHE_MAX_ENTRIES = 4096;
const NO_NAMES: NameMatcher = { size: 0, find: () => [] };
interface ScrubCache {
  plain: Map<string, ScrubResult>;
  patterns: Map<string, ScrubResult>;
}
const caches = new WeakMap<NameMatcher, ScrubCache>();

function cacheOf(names: NameMatcher): ScrubCache {
  let c = caches.get(names);
  if (!c) {
    c = { plain: new Map(), patterns: new Map() };
    caches.set(names, c);
  }
  return c;
}

function scrubUncached(text: string, personalValues: readonly string[], opts: ScrubOptions): ScrubResult {
  const byKind: Partial<Record<ScrubKind, number>> = {};
  const personal = compileNames(personalValues);
  // Markers already in the text are left alone. A removal can bring two harmless pieces together
  // into something a pattern finds: scrub again until nothing changes, so scrubbing twice is a no-op.
  let out = text.normalize('NFC');
  for (let pass = 0; pass < 4; pass++) {
    const before = out;
    out = out
      .split(MARKER_SPLIT)
      .map((part, i) => (i % 2 === 1 ? part : scrubPart(part, personal, opts, byKind)))
      .join('');
    if (out === before) break;
  }
  const removed = Object.values(byKind).reduce((a, b) => a + b, 0);
  return { text: out, removed, byKind };
}

/**
 * Free text typed by the hub's own people (an acknowledgement's or a silence's comment) as an
 * unauthenticated reader may see it: scrubbed with the name patterns on.
 */
export function scrubForPublic(text: string): string {
  return scrubText(text, [], { namePatterns: true }).text;
}

/** An alert as an unauthenticated reader may see it: its acknowledgement's comment {@link scrubForPublic scrubbed}. */
export function withPublicAckComment<A extends { acknowledged: { comment?: string } | null }>(alert: A): A {
  const ack = alert.acknowledged;
  return ack?.comment ? { ...alert, acknowledged: { ...ack, comment: scrubForPublic(ack.comment) } } : alert;
}

/** What precedes the comment in the rules engine's history messages: "acknowledged by <who>", "silenced by <who> until <time>". */
const HISTORY_COMMENT: Readonly<Record<string, RegExp>> = {
  ack: /^(acknowledged by .+?): ([\s\S]*)$/,
  silenced: /^(silenced by .+? until \S+): ([\s\S]*)$/,
};

/**
 * An alert's history entry as an unauthenticated reader may see it: the comment after an
 * acknowledgement or a silence {@link scrubForPublic scrubbed}. The message is split at the
 * earliest place its shape allows, so the scrubbed part holds the whole comment whatever the
 * author's name holds (spaces, a colon); a message of another shape is scrubbed whole (fail closed).
 */
export function withPublicHistoryComment<H extends { event: string; message: string }>(entry: H): H {
  const shape = HISTORY_COMMENT[entry.event];
  if (!shape) return entry;
  const m = shape.exec(entry.message);
  return { ...entry, message: m ? `${m[1]}: ${scrubForPublic(m[2]!)}` : scrubForPublic(entry.message) };
}
