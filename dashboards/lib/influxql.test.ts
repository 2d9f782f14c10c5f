import { describe, expect, it } from 'vitest';
import { InfluxQLRefError, type KnownSchema, checkRefs, extractQueryRefs, tokenize } from './influxql.ts';

const refs = (q: string): string[] => extractQueryRefs(q).refs.map((r) => `${r.role}:${r.name}@${r.measurements.join('+')}`);

describe('extractQueryRefs', () => {
  it('a panel query: fields inside functions, tags in WHERE and GROUP BY, macros and time ignored', () => {
    const q = 'SELECT mean("groundwater_level") FROM "water" WHERE $timeFilter AND "hub" =~ /^$hub$/ GROUP BY time($__interval), "sensor" fill(null)';
    expect(extractQueryRefs(q).measurements).toEqual(['water']);
    expect(refs(q)).toEqual(['field:groundwater_level@water', 'column:hub@water', 'tag:sensor@water']);
  });

  it('bare names in a SELECT list may be fields or tags; AS names are not references', () => {
    expect(refs('SELECT "species", "site", count AS "n" FROM "biodiversity" WHERE time > now() - 1h')).toEqual([
      'column:species@biodiversity',
      'column:site@biodiversity',
      'column:count@biodiversity',
    ]);
  });

  it('casts pin the role', () => {
    expect(refs('SELECT "x"::field FROM "m" WHERE "y"::tag = \'a\' GROUP BY "z"::tag')).toEqual(['field:x@m', 'tag:y@m', 'tag:z@m']);
  });

  it('arithmetic, nested functions, numbers and durations', () => {
    expect(refs('SELECT 100 * (sum("a") + sum("b")) / sum("c") AS "share", derivative(mean("d"), 1d) FROM "m" WHERE time >= 1ms')).toEqual([
      'field:a@m',
      'field:b@m',
      'field:c@m',
      'field:d@m',
    ]);
  });

  it('in an outer query, names the subquery outputs are not references; others reach the inner measurement', () => {
    const q = `SELECT sum("p") AS "solar", max("kind") FROM (SELECT mean("pv_power") AS "p" FROM "energy" WHERE "kind" != 'x' GROUP BY time(1m), "sensor" fill(none))
      WHERE $timeFilter AND "sensor" =~ /a/ GROUP BY time(1m), "site"`;
    expect(refs(q)).toEqual(['field:pv_power@energy', 'column:kind@energy', 'tag:sensor@energy', 'field:kind@energy', 'tag:site@energy']);
  });

  it('several statements and several measurements', () => {
    const r = extractQueryRefs('SELECT last("a") FROM "m1", "m2"; SELECT last("b") FROM "rp"."m3"');
    expect(r.measurements).toEqual(['m1', 'm2', 'm3']);
    expect(refs('SELECT last("a") FROM "m1", "m2"')).toEqual(['field:a@m1+m2']);
  });

  it('SHOW statements of template variables: keys and WHERE names are tags', () => {
    expect(refs('SHOW TAG VALUES FROM "water", "soil" WITH KEY = "site" WHERE "hub" =~ /^$hub$/')).toEqual(['tag:site@water+soil', 'tag:hub@water+soil']);
    expect(refs('SHOW TAG VALUES WITH KEY IN ("hub", "site")')).toEqual(['tag:hub@', 'tag:site@']);
    expect(extractQueryRefs('SHOW FIELD KEYS FROM "pipeline"').measurements).toEqual(['pipeline']);
    expect(refs('SHOW MEASUREMENTS WHERE "hub" = \'demo\'')).toEqual(['tag:hub@']);
  });

  it('template variables in ${} and [[ ]] syntax, comments and string escapes', () => {
    expect(refs('SELECT mean("x") * ${k:raw} FROM "m" -- note\nWHERE "t" = \'it\\\'s\' AND [[v]] = 1 /* c */')).toEqual(['field:x@m', 'column:t@m']);
  });

  it('refuses what it cannot vouch for', () => {
    expect(() => extractQueryRefs('SELECT mean("x") FROM /^w/')).toThrow(/regex measurements/);
    expect(() => extractQueryRefs('SELECT mean("x") INTO "y" FROM "m"')).toThrow(/INTO/);
    expect(() => extractQueryRefs('DROP MEASUREMENT "m"')).toThrow(InfluxQLRefError);
    expect(() => extractQueryRefs('SELECT mean("x") FROM "m" WHERE "a" = \'b')).toThrow(/unterminated string/);
    expect(() => extractQueryRefs('SELECT Mean FROM "m"')).toThrow(/capitals/);
    expect(() => extractQueryRefs('SELECT "x" FROM "m" GROUP BY time(1m) LIMIT')).toThrow(/end of query/);
  });
});

describe('tokenize', () => {
  it('tells regexes from division by what precedes them', () => {
    expect(tokenize('a / b').map((t) => t.type)).toEqual(['ident', 'op', 'ident']);
    expect(tokenize('"h" =~ /^a\\/b$/').map((t) => [t.type, t.value])).toEqual([
      ['qident', 'h'],
      ['op', '=~'],
      ['regex', '^a\\/b$'],
    ]);
  });
});

describe('checkRefs', () => {
  const schema: KnownSchema = {
    water: { tags: new Set(['hub', 'site']), fields: new Set(['level']) },
    soil: { tags: new Set(['hub']), fields: new Set(['moisture']) },
  };

  it('accepts names that exist with the role they are used in', () => {
    expect(checkRefs(extractQueryRefs('SELECT mean("level") FROM "water" WHERE "hub" =~ /a/ GROUP BY "site"'), schema)).toEqual([]);
  });

  it('names what is missing: measurement, field, tag used as field, field used as tag', () => {
    expect(checkRefs(extractQueryRefs('SELECT mean("level") FROM "air"'), schema)).toEqual(['measurement "air" is not written by ingest']);
    expect(checkRefs(extractQueryRefs('SELECT mean("lvl") FROM "water"'), schema)).toEqual(['field "lvl" does not exist in measurement "water"']);
    expect(checkRefs(extractQueryRefs('SELECT mean("hub") FROM "water"'), schema)).toEqual(['field "hub" does not exist in measurement "water"']);
    expect(checkRefs(extractQueryRefs('SELECT mean("level") FROM "water" GROUP BY "level"'), schema)).toEqual(['tag "level" does not exist in measurement "water"']);
  });

  it('a name read from several measurements must exist in each', () => {
    expect(checkRefs(extractQueryRefs('SHOW TAG VALUES FROM "water", "soil" WITH KEY = "site"'), schema)).toEqual(['tag "site" does not exist in measurement "soil"']);
  });

  it('without FROM, a name must exist in some measurement', () => {
    expect(checkRefs(extractQueryRefs('SHOW TAG VALUES WITH KEY = "site"'), schema)).toEqual([]);
    expect(checkRefs(extractQueryRefs('SHOW TAG VALUES WITH KEY = "plot"'), schema)).toEqual(['tag "plot" does not exist in any measurement']);
  });
});
