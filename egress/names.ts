/**
 * The names the hub knows, for the scrubber: every observer name that has crossed the boundary
 * (learned from `observer_name` attributes) and every account holder (the registry's accounts and
 * whatever other sources the role adds, such as the API's token names). A note then loses a
 * person's name even when it is written in a reading that carries no observer attribute, by
 * someone else, in another Unicode form or case.
 *
 * Learned names are kept in `<dataDir>/privacy-names.db` (raw tier, next to the spool and the
 * dead letters that hold the same names), so they are still known after a restart.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqlite } from '../core/sqlite.ts';
import { type NameMatcher, compileNames, fold } from '../privacy/index.ts';

/** File of the learned names under the data dir. */
export const NAMES_DB = 'privacy-names.db';

/** Longest name learned (longer values are notes, not names). */
const MAX_NAME = 200;

export interface NameBookOptions {
  /** Directory of the learned names; in memory when absent (tests). */
  dataDir?: string;
  /** Other names (account holders…), read again every `refreshMs`. A source that throws is skipped. */
  sources?: ReadonlyArray<() => Iterable<string>>;
  /** How often sources are read again, ms (default 30 s). */
  refreshMs?: number;
  now?: () => number;
}

/** Known names, compiled once per change for the scrubber. */
export class NameBook {
  readonly #db: Database.Database;
  readonly #learned = new Set<string>();
  /** Folded keys of the learned names: a name seen again is known without asking the database. */
  readonly #keys = new Set<string>();
  readonly #o: NameBookOptions;
  readonly #insert: Database.Statement;
  #fromSources: string[] = [];
  #sourcesAt = -Infinity;
  #matcher: NameMatcher | undefined;
  #closed = false;

  constructor(o: NameBookOptions = {}) {
    this.#o = o;
    this.#db = openSqlite(o.dataDir, NAMES_DB, { synchronous: 'FULL', migrations: ['CREATE TABLE IF NOT EXISTS names (folded TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID'] });
    for (const r of this.#db.prepare('SELECT folded, name FROM names').all() as Array<{ folded: string; name: string }>) {
      this.#learned.add(r.name);
      this.#keys.add(r.folded);
    }
    this.#insert = this.#db.prepare('INSERT OR IGNORE INTO names (folded, name) VALUES (?, ?)');
  }

  /** Learns a name (an observer's). Returns true when it was new. */
  learn(name: string): boolean {
    if (this.#closed) return false;
    const n = name.normalize('NFC').trim().replace(/\s+/g, ' ');
    if (n.length < 2 || n.length > MAX_NAME) return false;
    const key = fold(n).toLowerCase();
    if (this.#keys.has(key)) return false;
    const added = this.#insert.run(key, n).changes > 0;
    this.#keys.add(key);
    if (!added) return false;
    this.#learned.add(n);
    this.#matcher = undefined;
    return true;
  }

  /** Every known name (learned and from the sources). */
  names(): string[] {
    this.#refresh();
    return [...this.#learned, ...this.#fromSources];
  }

  /** The matcher of every known name (compiled again only when a name was added). */
  matcher(): NameMatcher {
    this.#refresh();
    this.#matcher ??= compileNames([...this.#learned, ...this.#fromSources]);
    return this.#matcher;
  }

  #refresh(): void {
    const now = (this.#o.now ?? Date.now)();
    if (!this.#o.sources?.length || now - this.#sourcesAt < (this.#o.refreshMs ?? 30_000)) return;
    this.#sourcesAt = now;
    const next: string[] = [];
    for (const s of this.#o.sources) {
      try {
        for (const n of s()) if (typeof n === 'string' && n.trim().length >= 2) next.push(n);
      } catch {
        // a source that cannot be read now keeps nothing from this round
      }
    }
    next.sort();
    if (next.join('\n') !== this.#fromSources.join('\n')) {
      this.#fromSources = next;
      this.#matcher = undefined;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/**
 * A source of the account names in the registry of a data dir (`registry.db`, read-only; nothing
 * when it does not exist yet).
 */
export function registryAccountNames(dataDir: string): () => string[] {
  return () => {
    const file = join(dataDir, 'registry.db');
    if (!existsSync(file)) return [];
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 1000');
      return (db.prepare('SELECT name FROM accounts').all() as Array<{ name: string }>).map((r) => r.name);
    } finally {
      db.close();
    }
  };
}
