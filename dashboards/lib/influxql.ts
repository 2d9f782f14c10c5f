/**
 * What an InfluxQL query refers to: the measurements it reads and the fields and tags it names.
 * The dashboards' tests use it to prove that every panel still points at something ingest writes,
 * so a renamed field or tag in ingest fails a test instead of leaving a panel silently empty.
 *
 * This is not a full InfluxQL parser. It understands the statements dashboards use: `SELECT`
 * (with subqueries, functions, arithmetic, `AS` aliases, `::field`/`::tag` casts, `WHERE`,
 * `GROUP BY`, `fill`, `ORDER BY`, `LIMIT`/`SLIMIT`/`OFFSET`/`SOFFSET`, `tz`) and the `SHOW`
 * statements used by template variables (`SHOW TAG VALUES`, `SHOW TAG KEYS`, `SHOW FIELD KEYS`,
 * `SHOW MEASUREMENTS`, `SHOW SERIES`). Anything it does not understand throws
 * {@link InfluxQLRefError}, so a query it cannot vouch for fails loudly rather than passing.
 * Grafana's macros (`$timeFilter`, `$__interval`, `$hub`, `${hub:raw}`, `[[hub]]`) may be left in.
 */

/** Thrown for a query the extractor cannot analyse (syntax it does not know, regex measurements). */
export class InfluxQLRefError extends Error {
  override readonly name = 'InfluxQLRefError';
  readonly code = 'DASHBOARDS_ERR_INFLUXQL';
}

/**
 * One name a query uses, and where it must exist.
 * - `field`: a field key (`SELECT mean("x")`, `"x"::field`);
 * - `tag`: a tag key (`GROUP BY "x"`, `WITH KEY = "x"`, `"x"::tag`, the `WHERE` of a `SHOW`);
 * - `column`: a field or a tag (a bare name in a `SELECT` list or a `WHERE` comparison).
 */
export interface QueryRef {
  role: 'field' | 'tag' | 'column';
  name: string;
  /** Measurements the name must exist in (the statement's `FROM`; empty = any measurement). */
  measurements: string[];
}

export interface QueryRefs {
  /** Every measurement named in a `FROM` or `SHOW … FROM`, outer and inner queries alike. */
  measurements: string[];
  refs: QueryRef[];
}

type TokenType = 'ident' | 'qident' | 'string' | 'regex' | 'number' | 'duration' | 'var' | 'op' | 'punct';

interface Token {
  type: TokenType;
  /** Identifiers: the unquoted name; keywords keep their spelling; strings and regexes their body. */
  value: string;
  pos: number;
}

const DURATION = /^\d+(?:ns|us|µs|u|ms|s|m|h|d|w)(?![A-Za-z0-9_])/;
const NUMBER = /^(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Grafana template syntax: `$name`, `${name}`, `${name:format}`, `[[name]]`, `[[name:format]]`. */
const TEMPLATE_VAR = /^(?:\$\{[^}]+\}|\$\w+|\[\[[^\]]+\]\])/;
const OPERATORS = ['=~', '!~', '!=', '<>', '<=', '>=', '::', '=', '<', '>', '+', '-', '*', '/', '%', '&', '|', '^'];

/** Keywords that may follow a regex literal's position: only after these does `/` start a regex. */
function regexMayFollow(prev: Token | undefined): boolean {
  if (!prev) return false;
  if (prev.type === 'op') return prev.value === '=~' || prev.value === '!~';
  return prev.type === 'ident' && /^(FROM|MEASUREMENT)$/i.test(prev.value);
}

/** Splits InfluxQL into tokens. Comments (`--`, `/* *\/`) are skipped. */
export function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new InfluxQLRefError(`${msg} at offset ${i} in: ${q}`);
  };
  while (i < q.length) {
    const ch = q[i] as string;
    const rest = q.slice(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (rest.startsWith('--')) {
      const nl = q.indexOf('\n', i);
      i = nl < 0 ? q.length : nl + 1;
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = q.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated comment');
      i = end + 2;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let body = '';
      while (j < q.length && q[j] !== ch) {
        if (q[j] === '\\' && j + 1 < q.length) {
          body += q[j + 1];
          j += 2;
        } else body += q[j++];
      }
      if (j >= q.length) fail(`unterminated ${ch === '"' ? 'identifier' : 'string'}`);
      out.push({ type: ch === '"' ? 'qident' : 'string', value: body, pos: i });
      i = j + 1;
      continue;
    }
    if (ch === '/' && regexMayFollow(out[out.length - 1])) {
      let j = i + 1;
      let body = '';
      while (j < q.length && q[j] !== '/') {
        if (q[j] === '\\' && j + 1 < q.length) {
          body += q[j] + (q[j + 1] as string);
          j += 2;
        } else body += q[j++];
      }
      if (j >= q.length) fail('unterminated regex');
      out.push({ type: 'regex', value: body, pos: i });
      i = j + 1;
      continue;
    }
    const tv = TEMPLATE_VAR.exec(rest);
    if (tv) {
      out.push({ type: 'var', value: tv[0], pos: i });
      i += tv[0].length;
      continue;
    }
    const dur = DURATION.exec(rest);
    if (dur) {
      out.push({ type: 'duration', value: dur[0], pos: i });
      i += dur[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num && /[\d.]/.test(ch)) {
      out.push({ type: 'number', value: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const id = IDENT.exec(rest);
    if (id) {
      out.push({ type: 'ident', value: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op) {
      out.push({ type: 'op', value: op, pos: i });
      i += op.length;
      continue;
    }
    if ('(),;.'.includes(ch)) {
      out.push({ type: 'punct', value: ch, pos: i });
      i++;
      continue;
    }
    fail(`unexpected character ${JSON.stringify(ch)}`);
  }
  return out;
}

const isKw = (t: Token | undefined, ...kw: string[]): boolean => t?.type === 'ident' && kw.some((k) => k.toUpperCase() === t.value.toUpperCase());
const isPunct = (t: Token | undefined, p: string): boolean => t?.type === 'punct' && t.value === p;
const isName = (t: Token | undefined): t is Token & { type: 'ident' | 'qident' } => t?.type === 'ident' || t?.type === 'qident';

/** Keywords that end a clause of a SELECT at depth 0. */
const CLAUSE_END = ['INTO', 'FROM', 'WHERE', 'GROUP', 'ORDER', 'LIMIT', 'OFFSET', 'SLIMIT', 'SOFFSET', 'FILL', 'TZ'];
/** Bare words that are InfluxQL operators or literals, never names. */
const EXPR_KEYWORDS = new Set(['AND', 'OR', 'TRUE', 'FALSE', 'NOT']);

/** What a (sub)query yields to an outer query: the columns it outputs, and the tags its series carry. */
interface SelectInfo {
  columns: Set<string>;
  measurements: string[];
}

class Parser {
  readonly #t: Token[];
  readonly #q: string;
  #i = 0;
  readonly measurements = new Set<string>();
  readonly refs: QueryRef[] = [];

  constructor(q: string) {
    this.#q = q;
    this.#t = tokenize(q);
  }

  #peek(o = 0): Token | undefined {
    return this.#t[this.#i + o];
  }

  #next(): Token {
    const t = this.#t[this.#i++];
    if (!t) this.#fail('unexpected end of query');
    return t as Token;
  }

  #fail(msg: string, t: Token | undefined = this.#peek()): never {
    throw new InfluxQLRefError(`${msg}${t ? ` at offset ${t.pos} (${JSON.stringify(t.value)})` : ''} in: ${this.#q}`);
  }

  #expectKw(...kw: string[]): Token {
    const t = this.#next();
    if (!isKw(t, ...kw)) this.#fail(`expected ${kw.join(' or ')}`, t);
    return t;
  }

  #expectPunct(p: string): void {
    const t = this.#next();
    if (!isPunct(t, p)) this.#fail(`expected ${p}`, t);
  }

  #ref(role: QueryRef['role'], name: string, measurements: string[]): void {
    this.refs.push({ role, name, measurements: [...measurements] });
  }

  parse(): QueryRefs {
    while (this.#peek()) {
      if (isPunct(this.#peek(), ';')) {
        this.#i++;
        continue;
      }
      const t = this.#peek();
      if (isKw(t, 'SELECT')) this.#select();
      else if (isKw(t, 'SHOW')) this.#show();
      else this.#fail('expected SELECT or SHOW');
      if (this.#peek() && !isPunct(this.#peek(), ';')) this.#fail('unexpected token after statement');
    }
    return { measurements: [...this.measurements], refs: this.refs };
  }

  /** Tokens up to (not including) one of `stops` at paren depth 0, or `)` closing the current level, or `;`. */
  #until(stops: string[]): Token[] {
    const out: Token[] = [];
    let depth = 0;
    for (let t = this.#peek(); t; t = this.#peek()) {
      if (depth === 0 && (isPunct(t, ';') || isPunct(t, ')'))) break;
      if (depth === 0 && t.type === 'ident' && stops.some((s) => s.toUpperCase() === t.value.toUpperCase())) break;
      if (isPunct(t, '(')) depth++;
      if (isPunct(t, ')')) depth--;
      out.push(this.#next());
    }
    return out;
  }

  #select(): SelectInfo {
    this.#expectKw('SELECT');
    const fieldToks = this.#until(CLAUSE_END);
    if (fieldToks.length === 0) this.#fail('empty SELECT list');
    if (isKw(this.#peek(), 'INTO')) this.#fail('SELECT … INTO is not allowed in a dashboard');
    this.#expectKw('FROM');
    const sources = this.#sources();
    const innerColumns = new Set<string>();
    const measurements: string[] = [];
    for (const s of sources) {
      if (typeof s === 'string') measurements.push(s);
      else {
        s.columns.forEach((c) => innerColumns.add(c));
        measurements.push(...s.measurements);
      }
    }
    // A name the inner query outputs (an alias, a function's default column, a selected name) is
    // not an ingest reference; anything else passes through to the inner measurements.
    const refer = (role: QueryRef['role'], name: string): void => {
      if (role !== 'tag' && innerColumns.has(name)) return;
      this.#ref(role, name, measurements);
    };
    const columns = this.#selectList(fieldToks, refer);

    if (isKw(this.#peek(), 'WHERE')) {
      this.#i++;
      this.#condition(this.#until(CLAUSE_END), refer);
    }
    if (isKw(this.#peek(), 'GROUP')) {
      this.#i++;
      this.#expectKw('BY');
      for (const tag of this.#groupBy()) {
        refer('tag', tag);
        columns.add(tag);
      }
    }
    for (;;) {
      const t = this.#peek();
      if (isKw(t, 'FILL', 'TZ')) {
        this.#i++;
        this.#expectPunct('(');
        this.#until([]);
        this.#expectPunct(')');
      } else if (isKw(t, 'ORDER')) {
        this.#i++;
        this.#expectKw('BY');
        this.#expectKw('TIME');
        if (isKw(this.#peek(), 'ASC', 'DESC')) this.#i++;
      } else if (isKw(t, 'LIMIT', 'OFFSET', 'SLIMIT', 'SOFFSET')) {
        this.#i++;
        const n = this.#next();
        if (n.type !== 'number' && n.type !== 'var') this.#fail('expected a number', n);
      } else break;
    }
    return { columns, measurements };
  }

  /** `FROM` sources: measurement names (optionally `db.rp.m`) and parenthesised subqueries. */
  #sources(): Array<string | SelectInfo> {
    const out: Array<string | SelectInfo> = [];
    for (;;) {
      const t = this.#peek();
      if (isPunct(t, '(')) {
        this.#i++;
        out.push(this.#select());
        this.#expectPunct(')');
      } else if (t?.type === 'regex') {
        this.#fail('regex measurements are not allowed in a dashboard (name the measurement)');
      } else if (isName(t)) {
        // db.rp.measurement: the last segment is the measurement.
        let name = this.#next().value;
        while (isPunct(this.#peek(), '.')) {
          this.#i++;
          const seg = this.#next();
          if (!isName(seg)) this.#fail('expected a name after "."', seg);
          name = seg.value;
        }
        this.measurements.add(name);
        out.push(name);
      } else this.#fail('expected a measurement or a subquery');
      if (!isPunct(this.#peek(), ',')) return out;
      this.#i++;
    }
  }

  /**
   * The SELECT list: names inside or outside function calls are references; `AS` names and
   * functions' default column names become the statement's output columns.
   */
  #selectList(toks: Token[], refer: (role: QueryRef['role'], name: string) => void): Set<string> {
    const columns = new Set<string>();
    // Split at depth-0 commas into items.
    const items: Token[][] = [[]];
    let depth = 0;
    for (const t of toks) {
      if (isPunct(t, '(')) depth++;
      if (isPunct(t, ')')) depth--;
      if (depth === 0 && isPunct(t, ',')) items.push([]);
      else (items[items.length - 1] as Token[]).push(t);
    }
    for (const item of items) {
      let alias: string | undefined;
      let body = item;
      const asAt = item.findIndex((t, k) => isKw(t, 'AS') && k === item.length - 2);
      if (asAt >= 0) {
        const a = item[asAt + 1];
        if (!isName(a)) this.#fail('expected a name after AS', a);
        alias = a.value;
        body = item.slice(0, asAt);
      }
      const names = this.#expression(body, refer, true);
      if (alias !== undefined) columns.add(alias);
      else if (names.firstFunction !== undefined) columns.add(names.firstFunction.toLowerCase());
      else if (names.first !== undefined) columns.add(names.first);
    }
    return columns;
  }

  /**
   * Walks an expression: names are references unless they call a function or are keywords. With
   * `argsAreFields`, a name inside a function call's arguments is a field (InfluxQL functions in a
   * SELECT list aggregate or transform fields, never tags).
   */
  #expression(toks: Token[], refer: (role: QueryRef['role'], name: string) => void, argsAreFields = false): { first?: string; firstFunction?: string } {
    const res: { first?: string; firstFunction?: string } = {};
    // One entry per open parenthesis: whether it opened a function call.
    const parens: boolean[] = [];
    for (let k = 0; k < toks.length; k++) {
      const t = toks[k] as Token;
      if (t.type === 'ident' && isPunct(toks[k + 1], '(')) {
        res.firstFunction ??= t.value;
        parens.push(true);
        k++;
        continue;
      }
      if (isPunct(t, '(')) parens.push(false);
      if (isPunct(t, ')')) parens.pop();
      if (!isName(t)) continue;
      if (t.type === 'ident' && (EXPR_KEYWORDS.has(t.value.toUpperCase()) || /^time$/i.test(t.value))) continue;
      if (t.type === 'qident' && t.value === 'time') continue;
      // `"x"::field` / `"x"::tag` pins the role; the cast keyword itself is not a name.
      let role: QueryRef['role'] = argsAreFields && parens.includes(true) ? 'field' : 'column';
      const cast = toks[k + 1]?.type === 'op' && toks[k + 1]?.value === '::' ? toks[k + 2] : undefined;
      if (cast) {
        if (isKw(cast, 'field')) role = 'field';
        else if (isKw(cast, 'tag')) role = 'tag';
        else if (!isKw(cast, 'float', 'integer', 'string', 'boolean')) this.#fail('unknown cast', cast);
        k += 2;
      }
      if (t.type === 'ident' && !/^[a-z_][a-z0-9_]*$/.test(t.value)) this.#fail('unquoted identifier with capitals (quote names in dashboards)', t);
      res.first ??= t.value;
      refer(role, t.value);
    }
    return res;
  }

  /** A WHERE condition: every name compared is a field or tag (time and template variables aside). */
  #condition(toks: Token[], refer: (role: QueryRef['role'], name: string) => void, role: QueryRef['role'] = 'column'): void {
    if (toks.length === 0) this.#fail('empty WHERE clause');
    this.#expression(toks, (r, name) => refer(r === 'column' ? role : r, name));
  }

  #groupBy(): string[] {
    const tags: string[] = [];
    for (;;) {
      const t = this.#next();
      if (isKw(t, 'time') || (t.type === 'qident' && t.value === 'time')) {
        this.#expectPunct('(');
        this.#until([]);
        this.#expectPunct(')');
      } else if (t.type === 'op' && t.value === '*') {
        // GROUP BY *: every tag; nothing named.
      } else if (isName(t)) {
        if (this.#peek()?.type === 'op' && this.#peek()?.value === '::') {
          this.#i++;
          this.#expectKw('tag');
        }
        tags.push(t.value);
      } else if (t.type === 'var') {
        // GROUP BY $tag: chosen by a variable; nothing static to check.
      } else this.#fail('expected time(…) or a tag in GROUP BY', t);
      if (!isPunct(this.#peek(), ',')) return tags;
      this.#i++;
    }
  }

  #show(): void {
    this.#expectKw('SHOW');
    const what = this.#next();
    let measurements: string[] = [];
    const from = (): void => {
      if (isKw(this.#peek(), 'ON')) {
        this.#i++;
        this.#next();
      }
      if (isKw(this.#peek(), 'FROM')) {
        this.#i++;
        measurements = this.#sources().map((s) => {
          if (typeof s !== 'string') this.#fail('subqueries are not allowed in SHOW');
          return s as string;
        });
      }
    };
    const where = (): void => {
      if (!isKw(this.#peek(), 'WHERE')) return;
      this.#i++;
      // Metadata statements filter series by tags only.
      this.#condition(this.#until(['LIMIT', 'OFFSET']), (role, name) => this.#ref(role, name, measurements), 'tag');
    };
    const tail = (): void => {
      while (isKw(this.#peek(), 'LIMIT', 'OFFSET')) {
        this.#i++;
        this.#next();
      }
    };
    if (isKw(what, 'TAG')) {
      const kind = this.#next();
      if (isKw(kind, 'KEYS')) {
        from();
        where();
      } else if (isKw(kind, 'VALUES')) {
        from();
        this.#expectKw('WITH');
        this.#expectKw('KEY');
        const op = this.#next();
        if (op.type === 'op' && op.value === '=') {
          const k = this.#next();
          if (!isName(k)) this.#fail('expected a tag key', k);
          this.#ref('tag', k.value, measurements);
        } else if (isKw(op, 'IN')) {
          this.#expectPunct('(');
          for (;;) {
            const k = this.#next();
            if (!isName(k)) this.#fail('expected a tag key', k);
            this.#ref('tag', k.value, measurements);
            if (!isPunct(this.#peek(), ',')) break;
            this.#i++;
          }
          this.#expectPunct(')');
        } else this.#fail('WITH KEY must be = "key" or IN (…) in a dashboard', op);
        where();
      } else this.#fail('expected KEYS or VALUES', kind);
    } else if (isKw(what, 'FIELD')) {
      this.#expectKw('KEYS');
      from();
    } else if (isKw(what, 'SERIES')) {
      from();
      where();
    } else if (isKw(what, 'MEASUREMENTS')) {
      if (isKw(this.#peek(), 'WITH')) this.#fail('SHOW MEASUREMENTS WITH MEASUREMENT is not allowed in a dashboard');
      where();
    } else this.#fail('unsupported SHOW statement', what);
    tail();
  }
}

/**
 * The measurements, fields and tags one InfluxQL query (one or more `;`-separated statements)
 * refers to. In an outer query over a subquery, names the subquery outputs (aliases, function
 * columns, grouped tags) are not references; other names refer to the inner measurements.
 *
 * @throws InfluxQLRefError for syntax outside the supported subset, `SELECT … INTO`, regex measurements
 */
export function extractQueryRefs(query: string): QueryRefs {
  return new Parser(query).parse();
}

/** The known storage schema: per measurement, its tag keys and field keys. */
export type KnownSchema = Readonly<Record<string, { tags: ReadonlySet<string>; fields: ReadonlySet<string> }>>;

/**
 * Checks references against a known schema. Returns one message per problem (empty when all
 * names exist): an unknown measurement, a field that is not a field of every measurement it is
 * read from, a tag that is not a tag there, a name that is neither.
 */
export function checkRefs(refs: QueryRefs, schema: KnownSchema): string[] {
  const problems: string[] = [];
  const has = (m: string): boolean => Object.prototype.hasOwnProperty.call(schema, m);
  for (const m of refs.measurements) if (!has(m)) problems.push(`measurement "${m}" is not written by ingest`);
  const exists = (r: QueryRef, m: string): boolean => {
    const s = schema[m] as KnownSchema[string];
    return r.role === 'field' ? s.fields.has(r.name) : r.role === 'tag' ? s.tags.has(r.name) : s.fields.has(r.name) || s.tags.has(r.name);
  };
  const what = (r: QueryRef): string => `${r.role === 'column' ? 'field or tag' : r.role} "${r.name}"`;
  for (const r of refs.refs) {
    if (r.measurements.length === 0) {
      // No FROM (e.g. SHOW TAG VALUES WITH KEY = "hub"): the name must exist somewhere.
      if (!Object.keys(schema).some((m) => exists(r, m))) problems.push(`${what(r)} does not exist in any measurement`);
      continue;
    }
    for (const m of r.measurements) {
      if (has(m) && !exists(r, m)) problems.push(`${what(r)} does not exist in measurement "${m}"`);
    }
  }
  return [...new Set(problems)];
}
