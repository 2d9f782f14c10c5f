/**
 * Loading rule files: a directory of YAML files (searched recursively, in name order), a single
 * file, or a list of either. Every problem is reported with the file, the line, the rule (by id)
 * and the field, e.g.
 * `rules/demo.yaml: rule "aquifer-depletion": window: must be a duration like 7d (line 14)`.
 * A rule set with any error is refused as a whole, so the engine keeps the previous one.
 */
import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { isKind, KINDS, type Rule } from './kinds/all.ts';
import { cronSchema, durationSchema, ruleFileSchema, webhookSchema, type WebhookConfig } from './spec.ts';

/** One problem in a rule file. */
export interface RuleIssue {
  file: string;
  line?: number;
  /** Rule id (or `#n` when the rule has no valid id). */
  rule?: string;
  /** Webhook name, for errors in `webhooks:`. */
  webhook?: string;
  /** Dotted path of the field inside the rule (or the file). */
  field?: string;
  message: string;
}

/** `file: rule "id": field: message (line n)` */
export function formatIssue(i: RuleIssue): string {
  const parts = [i.file];
  if (i.rule !== undefined) parts.push(i.rule.startsWith('#') ? `rule ${i.rule}` : `rule "${i.rule}"`);
  if (i.webhook !== undefined) parts.push(i.webhook.startsWith('#') ? `webhook ${i.webhook}` : `webhook "${i.webhook}"`);
  if (i.field) parts.push(i.field);
  return `${parts.join(': ')}: ${i.message}${i.line ? ` (line ${i.line})` : ''}`;
}

/** A rule with where it came from. */
export interface LoadedRule {
  rule: Rule;
  file: string;
  line?: number;
}

/** A complete, valid set of rules and webhook receivers. */
export interface RuleSet {
  rules: LoadedRule[];
  webhooks: Map<string, WebhookConfig>;
  files: string[];
}

export type LoadResult = { ok: true; ruleSet: RuleSet; errors: [] } | { ok: false; errors: RuleIssue[] };

const YAML_FILE = /\.ya?ml$/i;

/** A path as shown in messages: relative to the working directory when inside it. */
export function displayPath(p: string): string {
  const abs = resolve(p);
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') ? rel : abs;
}

/** The YAML files under `paths` (directories recursively), in a stable order. */
export function listRuleFiles(paths: readonly string[]): { files: string[]; errors: RuleIssue[] } {
  const files: string[] = [];
  const errors: RuleIssue[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && YAML_FILE.test(e.name)) files.push(p);
    }
  };
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    } catch (e) {
      errors.push({ file: displayPath(p), message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
  }
  return { files: [...new Set(files)], errors };
}

type Path = ReadonlyArray<PropertyKey>;

/** Every field name a rule file knows, for "did you mean" hints. */
const VOCABULARY = [
  ...new Set([
    ...Object.values(KINDS).flatMap((k) => Object.keys((k.schema as unknown as { shape?: Record<string, unknown> }).shape ?? {})),
    ...['hub', 'domain', 'sensor', 'site', 'metric', 'fn', 'by', 'step', 'stale', 'metrics', 'over', 'scale', 'label', 'offset'],
    ...['name', 'url', 'headers', 'timeout', 'maxAttempts', 'backoff', 'initial', 'max', 'defaults', 'rules', 'webhooks'],
  ]),
];

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  return (d[a.length] as number[])[b.length] as number;
}

/** ` (did you mean window?)` for a misspelt field, else ''. */
function suggest(key: string): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const w of VOCABULARY) {
    const dd = distance(key.toLowerCase(), w.toLowerCase());
    if (dd < bestD) [best, bestD] = [w, dd];
  }
  return best && bestD <= Math.min(2, Math.floor(key.length / 3)) ? ` (did you mean ${best}?)` : '';
}

/** 1-based line of the deepest node that exists along `path`. */
function lineOf(doc: Document, lc: LineCounter, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function valueAt(root: unknown, path: Path): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Turns zod issues into rule issues; `base` is where the validated value sits in the document. */
function fromZod(err: z.ZodError, raw: unknown, base: Path, ctx: { file: string; doc: Document; lc: LineCounter; rule?: string; webhook?: string }): RuleIssue[] {
  const out: RuleIssue[] = [];
  for (const issue of err.issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const key of keys) {
      const path = key === undefined ? issue.path : [...issue.path, key];
      const field = path.map(String).join('.');
      let message = issue.message;
      if (key !== undefined) message = `unknown field${suggest(key)}`;
      else if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined) message = 'is required';
      const i: RuleIssue = { file: ctx.file, message };
      if (ctx.rule !== undefined) i.rule = ctx.rule;
      if (ctx.webhook !== undefined) i.webhook = ctx.webhook;
      if (field) i.field = field;
      const line = lineOf(ctx.doc, ctx.lc, [...base, ...path]);
      if (line) i.line = line;
      out.push(i);
    }
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one file into rules and webhooks (not yet checked against the other files). */
function loadFile(path: string): { rules: LoadedRule[]; webhooks: Array<{ hook: WebhookConfig; line?: number }>; errors: RuleIssue[] } {
  const file = displayPath(path);
  const errors: RuleIssue[] = [];
  const rules: LoadedRule[] = [];
  const webhooks: Array<{ hook: WebhookConfig; line?: number }> = [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { rules, webhooks, errors: [{ file, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) {
      const i: RuleIssue = { file, message: `not valid YAML: ${e.message.split('\n')[0]}` };
      const line = e.linePos?.[0]?.line;
      if (line) i.line = line;
      errors.push(i);
    }
    return { rules, webhooks, errors };
  }
  const top = doc.toJS() as unknown;
  if (top === null || top === undefined) return { rules, webhooks, errors }; // an empty file holds no rules
  if (!isObject(top)) return { rules, webhooks, errors: [{ file, message: 'must be a mapping with a `rules:` list', line: 1 }] };
  const parsed = ruleFileSchema.safeParse(top);
  if (!parsed.success) return { rules, webhooks, errors: fromZod(parsed.error, top, [], { file, doc, lc }) };
  const f = parsed.data;

  // File defaults: validated here, then copied into each rule that does not set the field.
  const defaults: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f.defaults ?? {})) {
    const schema = k === 'schedule' ? cronSchema : k === 'renotify' || k === 'for' ? durationSchema : undefined;
    const r = schema?.safeParse(v);
    if (r && !r.success) errors.push(...fromZod(r.error, v, ['defaults', k], { file, doc, lc }).map((i) => ({ ...i, field: `defaults.${k}` })));
    else defaults[k] = v;
  }

  f.webhooks.forEach((raw, idx) => {
    const name = isObject(raw) && typeof raw.name === 'string' ? raw.name : `#${idx + 1}`;
    const r = webhookSchema.safeParse(raw);
    if (!r.success) errors.push(...fromZod(r.error, raw, ['webhooks', idx], { file, doc, lc, webhook: name }));
    else {
      const line = lineOf(doc, lc, ['webhooks', idx]);
      webhooks.push(line ? { hook: r.data, line } : { hook: r.data });
    }
  });

  f.rules.forEach((raw, idx) => {
    const base = ['rules', idx];
    const id = isObject(raw) && typeof raw.id === 'string' ? raw.id : `#${idx + 1}`;
    const line = lineOf(doc, lc, base);
    const issue = (field: string | undefined, message: string): RuleIssue => {
      const i: RuleIssue = { file, rule: id, message };
      if (field) i.field = field;
      const l = lineOf(doc, lc, field ? [...base, field] : base);
      if (l) i.line = l;
      return i;
    };
    if (!isObject(raw)) {
      errors.push(issue(undefined, 'must be a mapping with id, kind and the kind’s fields'));
      return;
    }
    if (!isKind(raw.kind)) {
      errors.push(issue('kind', raw.kind === undefined ? `is required (one of ${Object.keys(KINDS).join(', ')})` : `unknown kind ${JSON.stringify(raw.kind)} (one of ${Object.keys(KINDS).join(', ')})`));
      return;
    }
    const def = KINDS[raw.kind];
    const merged: Record<string, unknown> = { ...raw };
    for (const [k, v] of Object.entries(defaults)) {
      if (k === 'schedule' && def.mode === 'stream') continue;
      if (k === 'for' && def.mode === 'deadman') continue;
      if (!(k in merged)) merged[k] = v;
    }
    if (f.hub !== undefined) {
      const sel = isObject(merged.select) ? merged.select : merged.select === undefined ? {} : undefined;
      if (sel && !('hub' in sel)) merged.select = { ...sel, hub: f.hub };
    }
    const r = (def.schema as z.ZodType<Rule>).safeParse(merged);
    if (!r.success) {
      errors.push(...fromZod(r.error, merged, base, { file, doc, lc, rule: id }));
      return;
    }
    rules.push(line ? { rule: r.data, file, line } : { rule: r.data, file });
  });
  return { rules, webhooks, errors };
}

/**
 * Loads and validates every rule file under `paths`. Checks across files too: rule ids and
 * webhook names are unique, and every webhook a rule names is declared somewhere.
 */
export function loadRules(paths: string | readonly string[]): LoadResult {
  const list = typeof paths === 'string' ? [paths] : paths;
  const { files, errors } = listRuleFiles(list);
  const rules: LoadedRule[] = [];
  const webhooks = new Map<string, WebhookConfig>();
  const hookFile = new Map<string, string>();
  for (const path of files) {
    const r = loadFile(path);
    errors.push(...r.errors);
    for (const { hook, line } of r.webhooks) {
      const file = displayPath(path);
      const prev = hookFile.get(hook.name);
      if (prev) {
        const i: RuleIssue = { file, webhook: hook.name, message: `is declared twice (also in ${prev})` };
        if (line) i.line = line;
        errors.push(i);
      } else {
        webhooks.set(hook.name, hook);
        hookFile.set(hook.name, file);
      }
    }
    rules.push(...r.rules);
  }
  const seen = new Map<string, LoadedRule>();
  for (const lr of rules) {
    const prev = seen.get(lr.rule.id);
    if (prev) {
      const i: RuleIssue = { file: lr.file, rule: lr.rule.id, message: `id is used twice (also in ${prev.file}${prev.line ? ` line ${prev.line}` : ''}); rule ids must be unique` };
      if (lr.line) i.line = lr.line;
      errors.push(i);
    } else seen.set(lr.rule.id, lr);
    lr.rule.webhooks.forEach((w, n) => {
      if (!webhooks.has(w) && !errors.some((e) => e.webhook === w)) {
        const i: RuleIssue = { file: lr.file, rule: lr.rule.id, field: `webhooks.${n}`, message: `unknown webhook "${w}" (declare it under webhooks: in a rule file)` };
        if (lr.line) i.line = lr.line;
        errors.push(i);
      }
    });
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, ruleSet: { rules, webhooks, files: files.map(displayPath) }, errors: [] };
}

/**
 * Watches rule files and calls `onChange` once things settle (`debounceMs` after the last event).
 * Directories are watched recursively; a file is watched through its directory (editors replace
 * files by renaming, which a watch on the file itself would miss).
 */
export function watchRules(paths: readonly string[], onChange: () => void, opts: { debounceMs?: number; logger?: Logger } = {}): { close(): void } {
  const debounce = opts.debounceMs ?? 250;
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const fire = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounce);
  };
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      opts.logger?.warn({ path: p }, 'rule path does not exist; not watched');
      continue;
    }
    try {
      const w = isDir
        ? watch(p, { recursive: true }, (_e, name) => {
            if (!name || YAML_FILE.test(String(name))) fire();
          })
        : watch(dirname(p), (_e, name) => {
            if (!name || String(name) === basename(p)) fire();
          });
      w.on('error', (err) => opts.logger?.warn({ err, path: p }, 'rule file watch failed'));
      watchers.push(w);
    } catch (err) {
      opts.logger?.warn({ err, path: p }, 'cannot watch rule path');
    }
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
