import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNoPersonalData } from '../tests/harness/privacy.ts';
import { SCRUB_MARKERS, compileNames, fold, scrubText, withPublicAckComment, withPublicHistoryComment } from './scrub.ts';

const FORMS = ['NFC', 'NFD', 'NFKC', 'NFKD'] as const;
const note = (t: string, personal: string[] = [], names?: string[]) => scrubText(t, personal, { namePatterns: true, ...(names ? { names: compileNames(names) } : {}) });

describe('scrubText: each kind', () => {
  it.each([
    ['alice@example.org', 'email'],
    ['alice.smith+birds@mail.example.co.uk', 'email'],
    ['alice [at] example [dot] org', 'email'],
    ['alice(at)example.org', 'email'],
    ['alice at example dot org', 'email'],
    ['https://example.org/alice?x=1', 'link'],
    ['www.alice-birds.net', 'link'],
    ['alicebirds.com/contact', 'link'],
    ['///index.home.raft', 'link'],
    ['+44 20 7946 0958', 'phone'],
    ['0044 (0)20 7946-0958', 'phone'],
    ['06 12 34 56 78', 'phone'],
    ['51.50735, -0.12776', 'coordinates'],
    ['51.50735N 0.12776W', 'coordinates'],
    ['51°30′26″N 0°7′39″W', 'coordinates'],
    [`51° 30' 26" N, 0° 07' 39" W`, 'coordinates'],
    ['N 51° 30.438′ W 000° 07.650′', 'coordinates'],
    ['51 30 26 N', 'coordinates'],
    ['lat 51.5 lon -0.1', 'coordinates'],
    ['SU 12345 67890', 'coordinates'],
    ['9C3XGV3C+8R', 'coordinates'],
    ['SW1A 1AA', 'postcode'],
    ['ox1 2jd', 'postcode'],
    ['D02 X285', 'postcode'],
    ['90210-1234', 'postcode'],
    ['1017 GC', 'postcode'],
    ['00-950', 'postcode'],
    ['1000-205', 'postcode'],
    ['114 55', 'postcode'],
    ['CH-8001', 'postcode'],
    ['12 High Street', 'address'],
    ['221B Baker St.', 'address'],
    ['Flat 3', 'address'],
    ['Hauptstraße 12', 'address'],
    ['Kerkstraat 4a', 'address'],
    ['Storgatan 1', 'address'],
    ['PO Box 123', 'address'],
  ])('removes %s (%s)', (needle, kind) => {
    const r = scrubText(`seen near the pond. contact: ${needle} thanks`);
    expect(r.text).toBe(`seen near the pond. contact: ${SCRUB_MARKERS[kind as keyof typeof SCRUB_MARKERS]} thanks`);
    expect(r.byKind).toEqual({ [kind]: 1 });
  });

  it('removes a French, Italian or Spanish address with its street name', () => {
    expect(scrubText('nest at 12 rue de la Paix, thanks').text).toBe('nest at [address removed], thanks');
    expect(scrubText('via Roma 3, near the bridge').text).toBe('[address removed], near the bridge');
  });

  it('leaves ordinary notes alone, also with name patterns on', () => {
    for (const t of ['Two blackbirds at dawn, 3 eggs in the nest.', 'Water level 2.5 m, pH 7.1 on 2025-05-01, water 12°C', 'e.g. the usual spot', 'seen 12 newts']) {
      expect(note(t)).toEqual({ text: t, removed: 0, byKind: {} });
    }
  });

  it('removes names: known ones in any case and Unicode form, word by word; unknown ones by their capitals', () => {
    const r = note('ALICE saw it; ask alice smith or Smith himself. Then Tom Baker and Mrs Green came by, and zoe\u0301 too.', ['Alice Smith'], ['Zoé Dupont']);
    expect(r.text).toBe('[name removed] saw it; ask [name removed] or [name removed] himself. Then [name removed] and [name removed] came by, and [name removed] too.');
    expectNoPersonalData(r.text, ['Alice', 'Smith', 'Baker', 'Green']);
    // Two-letter names are names too; particles alone are not.
    expect(note('li wu and de facto', [], ['Li Wu', 'Jean de Florette']).text).toBe('[name removed] and de facto');
  });

  it('is unchanged by scrubbing again, and counts by kind', () => {
    const r = note('Mail jane@example.org or ring +44 7700 900123; nest at 51.5074, -0.1278 behind 12 Mill Lane, OX1 2JD.');
    expect(r.byKind).toEqual({ email: 1, phone: 1, coordinates: 1, address: 1, postcode: 1 });
    expect(note(r.text)).toMatchObject({ text: r.text, removed: 0 });
  });

  it('gives a repeated text the same result, yet one that follows the reading’s personal values, the known names and the mode', () => {
    // Short texts (species, areas) are answered from a cache: each of these must still see its own inputs.
    const species = 'Tit seen by Ada Lovelace';
    expect(scrubText(species).text).toBe(species);
    expect(scrubText(species, ['Ada Lovelace']).text).toBe('Tit seen by [name removed]');
    expect(scrubText(species, ['Ada', 'Lovelace']).text).toBe('Tit seen by [name removed]');
    expect(scrubText(species, ['Grace Hopper']).text).toBe(species);
    const before = compileNames(['Grace Hopper']);
    expect(scrubText(species, [], { names: before }).text).toBe(species);
    // A name learned since: the boundary's new matcher knows it.
    expect(scrubText(species, [], { names: compileNames(['Grace Hopper', 'Ada Lovelace']) }).text).toBe('Tit seen by [name removed]');
    expect(scrubText(species, [], { names: before }).text).toBe(species);
    expect(scrubText(species, [], { namePatterns: true }).text).toBe('[name removed] seen by [name removed]');
    expect(scrubText(species)).toEqual({ text: species, removed: 0, byKind: {} });
    // Shared results are frozen: no caller can change what the next reading gets.
    expect(Object.isFrozen(scrubText(species, ['Ada Lovelace']).byKind)).toBe(true);
  });

  it("gives an alert to readers without a token with its acknowledgement's comment scrubbed, and nothing else changed", () => {
    const alert = { id: 'demo.battery-low.battery-1', message: 'Battery at 8 %', acknowledged: { by: 'ana', at: '2026-11-25T00:00:00.000Z', comment: 'Mrs Green at 12 Mill Lane; ring 07700 900461' } };
    const out = withPublicAckComment(alert);
    expect(out).toEqual({ ...alert, acknowledged: { ...alert.acknowledged, comment: '[name removed] at [address removed]; ring [phone removed]' } });
    expect(alert.acknowledged.comment).toContain('Mill Lane');
    const plain = { id: 'x', acknowledged: null };
    expect(withPublicAckComment(plain)).toBe(plain);
  });

  it('gives an alert history to readers without a token with the comments of acks and silences scrubbed, whoever wrote them', () => {
    const comment = 'Mrs Green at 12 Mill Lane; ring 07700 900461';
    const entry = (event: string, message: string) => ({ alertId: 'a', event, message, by: 'x' });
    // Stewards' names as the engine writes them: a token name, or a configured one with spaces or a colon.
    for (const by of ['ana', 'Ana Lopez', 'ops: night shift']) {
      expect(withPublicHistoryComment(entry('ack', `acknowledged by ${by}: ${comment}`)).message).toMatch(/^acknowledged by .*: \[name removed\] at \[address removed\]; ring \[phone removed\]$/);
      expect(withPublicHistoryComment(entry('silenced', `silenced by ${by} until 2026-11-25T02:00:00.000Z: ${comment}`)).message).toMatch(/: \[name removed\] at \[address removed\]; ring \[phone removed\]$/);
    }
    expect(withPublicHistoryComment(entry('ack', 'acknowledged by ana')).message).toBe('acknowledged by ana');
    // Another shape: scrubbed whole rather than published as it is.
    expect(withPublicHistoryComment(entry('silenced', `silenced by ana — ${comment}`)).message).not.toMatch(/Green|Mill Lane|900461/);
    const transition = entry('transition', 'Battery at 8 % at Mill Lane');
    expect(withPublicHistoryComment(transition)).toBe(transition);
  });

  it('folds every normalisation form, accents, compatibility forms and invisible characters alike', () => {
    expect(fold('Zoë')).toBe(fold('Zoe\u0308'));
    expect(fold('Ｚｏｅ')).toBe('Zoe');
    expect(fold('Stra\u00dfe')).toBe('Strasse');
    expect(fold('Jo\u200bhn')).toBe('John');
    expect(note('call jo\u200bhn\u00ad doe', [], ['John Doe']).text).toBe('call [name removed]');
    // Full-width digits of a phone number.
    expect(scrubText('ring ０２０ ７９４６ ０９５８').byKind).toEqual({ phone: 1 });
  });
});

// ---------------------------------------------------------------------------
// Property: a note built from generated personal data keeps none of it after an opted-in scrub
// ---------------------------------------------------------------------------

const SYLLABLES = ['ka', 'vo', 'ri', 'len', 'mar', 'tis', 'bel', 'dor', 'fen', 'gru', 'hal', 'jo', 'ku', 'lim', 'nor', 'pe', 'quin', 'sar', 'tov', 'ul', 'wen', 'zed'];
const ACCENTED = ['é', 'ö', 'ñ', 'å', 'ç', 'ø', 'ł', 'ß', 'ü', 'ì'];
/** A made-up name word (so it cannot be an ordinary word), sometimes with an accent: "Kavorén". */
const nameWord = fc
  .tuple(fc.array(fc.constantFrom(...SYLLABLES), { minLength: 2, maxLength: 3 }), fc.option(fc.constantFrom(...ACCENTED), { nil: undefined }), fc.nat(5))
  .map(([syl, acc, at]) => {
    let w = syl.join('');
    if (acc) w = w.slice(0, Math.min(at, w.length)) + acc + w.slice(Math.min(at, w.length));
    return w[0]!.toUpperCase() + w.slice(1);
  });
const personName = fc.tuple(nameWord, nameWord).map(([a, b]) => `${a} ${b}`);
const STREETS = ['Street', 'Road', 'Lane', 'Avenue', 'Close', 'Drive', 'Way', 'Crescent', 'Gardens'];
const address = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 999 }), nameWord, fc.constantFrom(...STREETS)).map(([n, w, s]) => `${n} ${w} ${s}`),
  fc.tuple(nameWord, fc.constantFrom('strasse', 'straße', 'weg', 'gasse', 'straat', 'laan', 'gatan', 'vej'), fc.integer({ min: 1, max: 200 })).map(([w, s, n]) => `${w}${s} ${n}`),
  fc.tuple(fc.integer({ min: 1, max: 99 }), fc.constantFrom('rue', 'avenue', 'via', 'calle', 'rua'), nameWord).map(([n, s, w]) => `${n} ${s} ${w}`),
);
const L = 'ABDEFGHJLNPQRSTUWXYZ';
const letter = fc.constantFrom(...L);
const digit = fc.integer({ min: 0, max: 9 });
const postcode = fc.oneof(
  fc.tuple(letter, letter, digit, digit, letter, letter).map(([a, b, c, d, e, f]) => `${a}${b}${c} ${d}${e}${f}`), // UK
  fc.integer({ min: 10000, max: 99999 }).map(String), // US, DE, FR, IT, ES
  fc.tuple(fc.integer({ min: 10000, max: 99999 }), fc.integer({ min: 1000, max: 9999 })).map(([a, b]) => `${a}-${b}`), // ZIP+4
  fc.tuple(fc.integer({ min: 1000, max: 9999 }), fc.constantFrom('AB', 'GC', 'XR', 'KL')).map(([a, b]) => `${a} ${b}`), // NL
  fc.tuple(fc.integer({ min: 10, max: 99 }), fc.integer({ min: 100, max: 999 })).map(([a, b]) => `${a}-${b}`), // PL
  fc.tuple(fc.constantFrom('CH', 'A', 'B', 'DK'), fc.integer({ min: 1000, max: 9999 })).map(([c, n]) => `${c}-${n}`),
);
const lat = fc.double({ min: -89.9, max: 89.9, noNaN: true });
const lon = fc.double({ min: -179.9, max: 179.9, noNaN: true });
function dms(v: number, pos: string, neg: string, style: number): string {
  const a = Math.abs(v);
  const d = Math.floor(a);
  const m = Math.floor((a - d) * 60);
  const s = ((a - d) * 60 - m) * 60;
  const h = v < 0 ? neg : pos;
  switch (style) {
    case 0:
      return `${d}°${m}′${s.toFixed(1)}″${h}`;
    case 1:
      return `${d}° ${m}' ${Math.round(s)}" ${h}`;
    case 2:
      return `${h} ${d}° ${((a - d) * 60).toFixed(3)}'`; // degrees and decimal minutes
    case 3:
      return `${d}º${m}'${Math.round(s)}''${h}`;
    default:
      return `${d} ${m} ${Math.round(s)} ${h}`;
  }
}
const coordinates = fc.tuple(lat, lon, fc.integer({ min: 0, max: 6 })).map(([a, o, style]) =>
  style < 5 ? `${dms(a, 'N', 'S', style)} ${dms(o, 'E', 'W', style)}` : style === 5 ? `${a.toFixed(4)}, ${o.toFixed(4)}` : `${Math.abs(a).toFixed(5)}${a < 0 ? 'S' : 'N'} ${Math.abs(o).toFixed(5)}${o < 0 ? 'W' : 'E'}`,
);
const email = fc.tuple(nameWord, nameWord).map(([a, b]) => `${fold(a).toLowerCase()}.${fold(b).toLowerCase()}@example.org`);
const phone = fc.tuple(fc.integer({ min: 100, max: 999 }), fc.integer({ min: 1000, max: 9999 }), fc.integer({ min: 1000, max: 9999 })).map(([a, b, c]) => `+44 ${a} ${b} ${c}`);
const url = nameWord.map((w) => `https://www.${fold(w).toLowerCase()}.net/garden`);
const FILLER = ['seen', 'near', 'the', 'pond', 'two', 'otters', 'at', 'dawn', 'nest', 'in', 'hedge', 'quiet', 'today', 'and', 'by', 'from'];

interface Secret {
  text: string;
  /** Strings that must not survive (each at least 4 characters). */
  tokens: string[];
}
const nameTokens = (n: string): string[] => n.split(' ').filter((w) => w.length >= 4);
const secret = (known: string[]): fc.Arbitrary<Secret> =>
  fc.oneof(
    // a name the hub knows, written in any case
    fc.tuple(fc.constantFrom(...known), fc.constantFrom('asis', 'lower', 'upper')).map(([n, c]) => ({ text: c === 'lower' ? n.toLowerCase() : c === 'upper' ? n.toUpperCase() : n, tokens: nameTokens(n) })),
    // a third person nobody registered: only their capitals give them away
    personName.map((n) => ({ text: n, tokens: nameTokens(n) })),
    nameWord.map((n) => ({ text: `Mrs ${n}`, tokens: nameTokens(n) })),
    address.map((a) => ({ text: a, tokens: [a, ...a.split(' ').filter((w) => w.length >= 4 && !/^(street|road|lane|avenue|close|drive|crescent|gardens|calle|avenue)$/i.test(w))] })),
    postcode.map((p) => ({ text: p, tokens: [p] })),
    coordinates.map((c) => ({ text: c, tokens: [c, ...c.split(/[\s,]+/).filter((w) => /\d[.,]\d{3}/.test(w))] })),
    email.map((e) => ({ text: e, tokens: [e] })),
    phone.map((p) => ({ text: p, tokens: [p, p.slice(4)] })),
    url.map((u) => ({ text: u, tokens: [u] })),
  );

describe('scrubText: properties', () => {
  it('no personal token of any kind, in any Unicode form, survives an opted-in scrub', () => {
    fc.assert(
      fc.property(
        fc.array(personName, { minLength: 1, maxLength: 4 }).chain((known) =>
          fc.record({
            known: fc.constant(known),
            knownForm: fc.constantFrom(...FORMS),
            noteForm: fc.constantFrom(...FORMS),
            parts: fc.array(fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...FILLER).map((text): Secret => ({ text, tokens: [] })) }, { weight: 1, arbitrary: secret(known) }), { minLength: 1, maxLength: 12 }),
          }),
        ),
        ({ known, knownForm, noteForm, parts }) => {
          const text = parts.map((p) => p.text).join(' ').normalize(noteForm);
          const out = note(
            text,
            [],
            known.map((n) => n.normalize(knownForm)),
          ).text;
          const tokens = parts.flatMap((p) => p.tokens);
          // Compared folded on both sides: an accent dropped or a form changed is still the token.
          const hay = fold(out).toLowerCase();
          for (const t of tokens) expect(hay, `${JSON.stringify(t)} survived in ${JSON.stringify(out)}`).not.toContain(fold(t).toLowerCase());
          expectNoPersonalData(out, tokens.filter((t) => t.length >= 4));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('scrubbing its own output changes nothing (the publishers check records this way)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...FILLER), secret(['Ann Lee']).map((s) => s.text), fc.string({ maxLength: 12 })), { maxLength: 12 }), (parts) => {
        const once = note(parts.join(' '));
        expect(note(once.text)).toMatchObject({ text: once.text, removed: 0 });
      }),
      { numRuns: 300 },
    );
  });
});
