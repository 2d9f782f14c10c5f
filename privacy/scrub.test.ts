import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNoPersonalData } from '../tests/harness/privacy.ts';
import { SCRUB_MARKERS, scrubText } from './scrub.ts';

describe('scrubText', () => {
  it.each([
    ['alice@example.org', SCRUB_MARKERS.email],
    ['alice.smith+birds@mail.example.co.uk', SCRUB_MARKERS.email],
    ['alice [at] example [dot] org', SCRUB_MARKERS.email],
    ['alice(at)example.org', SCRUB_MARKERS.email],
    ['alice at example dot org', SCRUB_MARKERS.email],
    ['https://example.org/alice?x=1', SCRUB_MARKERS.link],
    ['www.alice-birds.net', SCRUB_MARKERS.link],
    ['alicebirds.com/contact', SCRUB_MARKERS.link],
    ['+44 20 7946 0958', SCRUB_MARKERS.phone],
    ['0044 (0)20 7946-0958', SCRUB_MARKERS.phone],
    ['06 12 34 56 78', SCRUB_MARKERS.phone],
    ['51.50735, -0.12776', SCRUB_MARKERS.coordinates],
    ['51.50735N 0.12776W', SCRUB_MARKERS.coordinates],
  ])('removes %s', (needle, marker) => {
    const r = scrubText(`Seen near the pond. Contact: ${needle} thanks`);
    expect(r.text).toBe(`Seen near the pond. Contact: ${marker} thanks`);
    expect(r.removed).toBe(1);
  });

  it('leaves ordinary notes alone', () => {
    for (const t of ['Two blackbirds at dawn, 3 eggs in the nest.', 'Water level 2.5 m, pH 7.1 on 2025-05-01', 'e.g. the usual spot', 'Zoë saw 12 newts']) {
      expect(scrubText(t)).toEqual({ text: t, removed: 0 });
    }
  });

  it("removes the reading's own personal values, whole and word by word, in any case", () => {
    const r = scrubText('ALICE saw it; ask alice smith or Smith himself', ['Alice Smith']);
    expect(r.text).toBe('[name removed] saw it; ask [name removed] or [name removed] himself');
    expectNoPersonalData(r.text, ['Alice', 'Smith']);
  });

  it('property: an email or phone number inserted anywhere never survives', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        fc.oneof(
          fc.emailAddress().filter((e) => e.length >= 6),
          fc.tuple(fc.integer({ min: 100, max: 999 }), fc.integer({ min: 1000, max: 9999 }), fc.integer({ min: 1000, max: 9999 })).map(([a, b, c]) => `+31 ${a} ${b} ${c}`),
        ),
        (before, after, secret) => {
          const out = scrubText(`${before} ${secret} ${after}`).text;
          expect(out.toLowerCase()).not.toContain(secret.toLowerCase());
        },
      ),
    );
  });
});
