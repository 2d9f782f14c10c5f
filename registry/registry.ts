/**
 * The registry of devices and accounts, in SQLite under the data dir, shared by the broker (who
 * may connect, publish where), ingest (is this sensor registered) and the CLI (`steward sensors
 * add|list|remove`, `steward accounts add`, `steward tokens add|list|revoke`). Secrets are stored
 * as hashes only: human-chosen passwords with scrypt; secrets Steward generates (device and account
 * passwords, API tokens: 144 to 256 random bits) with HMAC-SHA256 under a key kept in the same
 * database, so every node sharing the registry verifies them, and a reconnect storm of thousands of
 * devices costs microseconds each instead of 16 MiB of scrypt. That is as strong as scrypt for these
 * secrets: scrypt's slowness only protects guessable passwords, and no one can search 2^144 values
 * whatever the hash costs; the key keeps a copied hash from being checked against any other registry.
 * Several processes may open the same file: a device added by the CLI can connect at once.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, createHash, createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import { type Domain, isDomain, isId } from '../core/ids.ts';
import { openSqlite } from '../core/sqlite.ts';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** Roles of accounts that are not devices. `service` reads the raw tier (ingest, rules). */
export const ACCOUNT_ROLES = ['service', 'hub', 'steward', 'technician'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export interface SensorEntry {
  hub: string;
  domain: Domain;
  sensor: string;
  /** MQTT username and client id of the device: `{hub}.{sensor}`. */
  username: string;
  site?: string;
  kind?: string;
  createdAt: number;
}

export interface AccountEntry {
  name: string;
  role: AccountRole;
  /** For role `hub`: the hub whose alerts it may read; undefined = all hubs. */
  hub?: string;
  createdAt: number;
}

/** Who an authenticated MQTT client is. */
export type Principal = ({ type: 'device' } & SensorEntry) | ({ type: 'account' } & AccountEntry);

/** scrypt cost: N=2^14 (16 MiB, ~40 ms). Stored with each hash so it can be raised later. */
const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };

const DUMMY_SCRYPT = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const DUMMY_HMAC = `hmac-sha256$${createHash('sha256').update('no such user').digest('base64')}`;

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Hashes a generated (high-entropy) secret as `hmac-sha256$hash` (base64) under the registry's key. */
export function hashSecret(secret: string, key: Buffer): string {
  return `hmac-sha256$${createHmac('sha256', key).update(secret, 'utf8').digest('base64')}`;
}

/**
 * Checks a password against a stored hash in constant time: `scrypt$…` (human-chosen) or
 * `hmac-sha256$…` (generated; needs the registry's `key`).
 */
export async function verifyPassword(password: string, stored: string, key?: Buffer): Promise<boolean> {
  if (stored.startsWith('hmac-sha256$')) {
    if (!key) return false;
    const expected = Buffer.from(stored.slice('hmac-sha256$'.length), 'base64');
    const got = createHmac('sha256', key).update(password, 'utf8').digest();
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, N, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashB64, 'base64');
  const got = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, { N: Number(N), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** A random password for generated credentials (24 url-safe characters). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** A new API token: `stw_` and 32 random bytes (url-safe base64). */
export function generateToken(): string {
  return `stw_${randomBytes(32).toString('base64url')}`;
}

/** Roles an API token may have. */
export const TOKEN_ROLES = ['steward', 'technician'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** An API token as listed (never the token itself). */
export interface TokenEntry {
  name: string;
  role: TokenRole;
  /** Hubs whose raw data and alerts it may read and act on; undefined = every hub. */
  hubs?: string[];
  createdAt: number;
  /** Epoch ms after which it is refused; undefined = never. */
  expiresAt?: number;
}

/** A DevEUI as 16 lower-case hex digits (separators `-` and `:` dropped), or undefined. */
export function normaliseEui(eui: string): string | undefined {
  const e = eui.replace(/[-:]/g, '').toLowerCase();
  return /^[0-9a-f]{16}$/.test(e) ? e : undefined;
}

export function deviceUsername(hub: string, sensor: string): string {
  return `${hub}.${sensor}`;
}

interface SensorRow {
  hub: string;
  domain: string;
  sensor: string;
  site: string | null;
  kind: string | null;
  password_hash: string;
  created_at: number;
}
interface TokenRow {
  name: string;
  role: string;
  hubs: string | null;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
}
interface AccountRow {
  name: string;
  role: string;
  hub: string | null;
  password_hash: string;
  created_at: number;
}

/** The registry's tables (the first migration: files from before versioning already have them). */
const SCHEMA = `
      CREATE TABLE IF NOT EXISTS sensors (
        hub TEXT NOT NULL, sensor TEXT NOT NULL, domain TEXT NOT NULL, site TEXT, kind TEXT,
        password_hash TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (hub, sensor));
      CREATE TABLE IF NOT EXISTS accounts (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, hub TEXT, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS api_tokens (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, hubs TEXT, token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL, expires_at INTEGER);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS sensor_euis (
        eui TEXT PRIMARY KEY, hub TEXT NOT NULL, sensor TEXT NOT NULL);
`;

/** The registry. Open one per process with `Registry.open(dataDir)`; close it on stop. */
export class Registry {
  readonly #db: Database.Database;
  /** username -> HMAC of the last password that verified (avoids re-running scrypt on reconnects). */
  readonly #verified = new Map<string, { stored: string; mac: string }>();
  readonly #macKey = randomBytes(32);
  readonly #readKey: Database.Statement;
  readonly #tokenByHash: Database.Statement;
  #sensorCache = new Map<string, SensorEntry>();
  #cacheVersion = -1;
  #cacheCheckedAt = 0;

  private constructor(db: Database.Database) {
    this.#db = db;
    this.#readKey = db.prepare("SELECT value FROM meta WHERE key = 'secret_hmac_key'");
    // Both run at every use (a CONNECT, an API request): compiled once.
    this.#tokenByHash = db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?');
  }

  /**
   * Key of the `hmac-sha256$` hashes, stored in the database (table meta) and shared by every
   * process that opens it; read at each use, so a key a cluster agrees on (registry/cluster.ts)
   * takes effect at once.
   */
  get #secretKey(): Buffer {
    return (this.#readKey.get() as { value: Buffer }).value;
  }

  /** Opens (creating if needed) `registry.db` in `dataDir`. */
  static open(dataDir: string): Registry {
    // FULL: SQLite's default, which this file has always had.
    const db = openSqlite(dataDir, 'registry.db', { synchronous: 'FULL', migrations: [SCHEMA] });
    // The first process to open the file creates the key; the others read that one.
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_hmac_key', ?)").run(randomBytes(32));
    return new Registry(db);
  }

  close(): void {
    this.#db.close();
  }

  /**
   * Registers a device. Generates a password when none is given (returned once, never stored in
   * clear). Replaces an existing registration of the same hub and sensor. Throws TypeError on bad ids.
   */
  async addSensor(opts: { hub: string; domain: string; sensor: string; password?: string; site?: string; kind?: string }): Promise<{ entry: SensorEntry; password: string; generated: boolean }> {
    for (const k of ['hub', 'sensor'] as const) if (!isId(opts[k])) throw new TypeError(`invalid ${k} id ${JSON.stringify(opts[k])}: must match ^[a-z0-9][a-z0-9_-]{0,63}$`);
    if (!isDomain(opts.domain)) throw new TypeError(`invalid domain ${JSON.stringify(opts.domain)}: one of water, soil, energy, biodiversity`);
    for (const k of ['site', 'kind'] as const) if (opts[k] !== undefined && !isId(opts[k])) throw new TypeError(`invalid ${k} id ${JSON.stringify(opts[k])}`);
    const generated = opts.password === undefined;
    const password = opts.password ?? generatePassword();
    if (password.length < 8) throw new TypeError('password must have at least 8 characters');
    const hash = generated ? hashSecret(password, this.#secretKey) : await hashPassword(password);
    const now = Date.now();
    this.#db
      .prepare('INSERT OR REPLACE INTO sensors (hub, sensor, domain, site, kind, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(opts.hub, opts.sensor, opts.domain, opts.site ?? null, opts.kind ?? null, hash, now);
    this.#verified.delete(deviceUsername(opts.hub, opts.sensor));
    this.#cacheVersion = -1;
    return { entry: this.#toSensor({ hub: opts.hub, sensor: opts.sensor, domain: opts.domain, site: opts.site ?? null, kind: opts.kind ?? null, password_hash: hash, created_at: now }), password, generated };
  }

  /**
   * Links a LoRaWAN DevEUI (16 hex digits, any case) to a registered sensor, replacing an earlier
   * link of the same EUI: the connectors (connectors/) find the sensor of an uplink by it.
   */
  setSensorEui(hub: string, sensor: string, eui: string): void {
    const e = normaliseEui(eui);
    if (!e) throw new TypeError(`invalid EUI ${JSON.stringify(eui)}: must be 16 hexadecimal digits`);
    if (!this.#db.prepare('SELECT 1 FROM sensors WHERE hub = ? AND sensor = ?').get(hub, sensor)) throw new TypeError(`no sensor ${sensor} registered for hub ${hub}`);
    this.#db.prepare('INSERT OR REPLACE INTO sensor_euis (eui, hub, sensor) VALUES (?, ?, ?)').run(e, hub, sensor);
  }

  /** The sensor a DevEUI is linked to, or undefined. */
  sensorByEui(eui: string): SensorEntry | undefined {
    const e = normaliseEui(eui);
    if (!e) return undefined;
    const row = this.#db.prepare('SELECT s.* FROM sensor_euis e JOIN sensors s ON s.hub = e.hub AND s.sensor = e.sensor WHERE e.eui = ?').get(e) as SensorRow | undefined;
    return row ? this.#toSensor(row) : undefined;
  }

  /** The DevEUI linked to a sensor, if any. */
  euiOf(hub: string, sensor: string): string | undefined {
    return (this.#db.prepare('SELECT eui FROM sensor_euis WHERE hub = ? AND sensor = ?').get(hub, sensor) as { eui: string } | undefined)?.eui;
  }

  /** Removes a device; true if it existed. */
  removeSensor(hub: string, sensor: string): boolean {
    this.#db.prepare('DELETE FROM sensor_euis WHERE hub = ? AND sensor = ?').run(hub, sensor);
    const r = this.#db.prepare('DELETE FROM sensors WHERE hub = ? AND sensor = ?').run(hub, sensor);
    this.#verified.delete(deviceUsername(hub, sensor));
    this.#cacheVersion = -1;
    return r.changes > 0;
  }

  listSensors(hub?: string): SensorEntry[] {
    const rows = (hub
      ? this.#db.prepare('SELECT * FROM sensors WHERE hub = ? ORDER BY hub, sensor').all(hub)
      : this.#db.prepare('SELECT * FROM sensors ORDER BY hub, sensor').all()) as SensorRow[];
    return rows.map((r) => this.#toSensor(r));
  }

  /**
   * Looks a sensor up through an in-memory cache that is refreshed when another process changed
   * the file (SQLite `data_version`), checked at most every `maxAgeMs`. Cheap enough per message.
   */
  getSensor(hub: string, sensor: string, maxAgeMs = 1000): SensorEntry | undefined {
    const now = Date.now();
    if (now - this.#cacheCheckedAt > maxAgeMs || this.#cacheVersion < 0) {
      this.#cacheCheckedAt = now;
      const v = this.#db.pragma('data_version', { simple: true }) as number;
      if (v !== this.#cacheVersion) {
        this.#sensorCache = new Map(this.listSensors().map((s) => [s.username, s]));
        this.#cacheVersion = v;
      }
    }
    return this.#sensorCache.get(deviceUsername(hub, sensor));
  }

  /** Adds (or replaces) an account. Generates a password when none is given. */
  async addAccount(opts: { name: string; role: string; password?: string; hub?: string }): Promise<{ entry: AccountEntry; password: string; generated: boolean }> {
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(opts.name)) throw new TypeError(`invalid account name ${JSON.stringify(opts.name)}: must match ^[a-z0-9][a-z0-9_-]{0,63}$`);
    if (!(ACCOUNT_ROLES as readonly string[]).includes(opts.role)) throw new TypeError(`invalid role ${JSON.stringify(opts.role)}: one of ${ACCOUNT_ROLES.join(', ')}`);
    if (opts.hub !== undefined && !isId(opts.hub)) throw new TypeError(`invalid hub id ${JSON.stringify(opts.hub)}`);
    const generated = opts.password === undefined;
    const password = opts.password ?? generatePassword();
    if (password.length < 8) throw new TypeError('password must have at least 8 characters');
    const hash = generated ? hashSecret(password, this.#secretKey) : await hashPassword(password);
    const now = Date.now();
    this.#db.prepare('INSERT OR REPLACE INTO accounts (name, role, hub, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(opts.name, opts.role, opts.hub ?? null, hash, now);
    this.#verified.delete(opts.name);
    const entry: AccountEntry = { name: opts.name, role: opts.role as AccountRole, createdAt: now };
    if (opts.hub) entry.hub = opts.hub;
    return { entry, password, generated };
  }

  removeAccount(name: string): boolean {
    this.#verified.delete(name);
    return this.#db.prepare('DELETE FROM accounts WHERE name = ?').run(name).changes > 0;
  }

  listAccounts(): AccountEntry[] {
    return (this.#db.prepare('SELECT * FROM accounts ORDER BY name').all() as AccountRow[]).map((r) => {
      const e: AccountEntry = { name: r.name, role: r.role as AccountRole, createdAt: r.created_at };
      if (r.hub) e.hub = r.hub;
      return e;
    });
  }

  /**
   * Adds an API token and returns it (shown once; only its hash is stored). Throws TypeError on a
   * bad name, role, hub or expiry, or when a token of that name exists (revoke it first).
   */
  addToken(opts: { name: string; role: string; hubs?: string[]; expiresAt?: number; now?: number }): { entry: TokenEntry; token: string } {
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(opts.name)) throw new TypeError(`invalid token name ${JSON.stringify(opts.name)}: must match ^[a-z0-9][a-z0-9_-]{0,63}$`);
    if (!(TOKEN_ROLES as readonly string[]).includes(opts.role)) throw new TypeError(`invalid role ${JSON.stringify(opts.role)}: one of ${TOKEN_ROLES.join(', ')}`);
    for (const h of opts.hubs ?? []) if (!isId(h)) throw new TypeError(`invalid hub id ${JSON.stringify(h)}`);
    const now = opts.now ?? Date.now();
    if (opts.expiresAt !== undefined && !(opts.expiresAt > now)) throw new TypeError('the expiry must be in the future');
    const token = generateToken();
    const hubs = opts.hubs?.length ? [...new Set(opts.hubs)].sort() : undefined;
    try {
      this.#db
        .prepare('INSERT INTO api_tokens (name, role, hubs, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(opts.name, opts.role, hubs ? JSON.stringify(hubs) : null, hashSecret(token, this.#secretKey), now, opts.expiresAt ?? null);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new TypeError(`a token named ${opts.name} exists: revoke it first`, { cause: e });
      throw e;
    }
    return { entry: this.#toToken({ name: opts.name, role: opts.role, hubs: hubs ? JSON.stringify(hubs) : null, token_hash: '', created_at: now, expires_at: opts.expiresAt ?? null }), token };
  }

  listTokens(): TokenEntry[] {
    return (this.#db.prepare('SELECT * FROM api_tokens ORDER BY name').all() as TokenRow[]).map((r) => this.#toToken(r));
  }

  /** Revokes (deletes) a token; true if it existed. Takes effect at the next request. */
  revokeToken(name: string): boolean {
    return this.#db.prepare('DELETE FROM api_tokens WHERE name = ?').run(name).changes > 0;
  }

  /**
   * The token a bearer value names, read from the database at every call (an index lookup of its
   * keyed hash), so tokens added or revoked by another process count at once. `expired` is set
   * when it exists but its expiry has passed.
   */
  findToken(presented: string, now = Date.now()): (TokenEntry & { expired: boolean }) | undefined {
    const row = this.#tokenByHash.get(hashSecret(presented, this.#secretKey)) as TokenRow | undefined;
    if (!row) return undefined;
    return { ...this.#toToken(row), expired: row.expires_at !== null && now >= row.expires_at };
  }

  #toToken(r: TokenRow): TokenEntry {
    const e: TokenEntry = { name: r.name, role: r.role as TokenRole, createdAt: r.created_at };
    if (r.hubs) e.hubs = JSON.parse(r.hubs) as string[];
    if (r.expires_at !== null) e.expiresAt = r.expires_at;
    return e;
  }

  /**
   * Authenticates an MQTT username/password: `{hub}.{sensor}` for devices, an account name
   * otherwise. Returns the principal or undefined. Always reads the current registry.
   */
  async authenticate(username: string, password: string): Promise<Principal | undefined> {
    let stored: string | undefined;
    let principal: Principal | undefined;
    const dot = username.indexOf('.');
    if (dot > 0) {
      const hub = username.slice(0, dot);
      const sensor = username.slice(dot + 1);
      if (!isId(hub) || !isId(sensor)) return undefined;
      const row = this.#db.prepare('SELECT * FROM sensors WHERE hub = ? AND sensor = ?').get(hub, sensor) as SensorRow | undefined;
      if (row) {
        stored = row.password_hash;
        principal = { type: 'device', ...this.#toSensor(row) };
      }
    } else {
      const row = this.#db.prepare('SELECT * FROM accounts WHERE name = ?').get(username) as AccountRow | undefined;
      if (row) {
        stored = row.password_hash;
        const e: AccountEntry = { name: row.name, role: row.role as AccountRole, createdAt: row.created_at };
        if (row.hub) e.hub = row.hub;
        principal = { type: 'account', ...e };
      }
    }
    if (!stored || !principal) {
      // Spend comparable time so unknown usernames cannot be told apart by timing: devices
      // (`hub.sensor`) mostly have generated secrets, accounts may have chosen passwords.
      await (dot > 0 ? verifyPassword(password, DUMMY_HMAC, this.#secretKey) : verifyPassword(password, DUMMY_SCRYPT));
      return undefined;
    }
    if (stored.startsWith('hmac-sha256$')) return (await verifyPassword(password, stored, this.#secretKey)) ? principal : undefined;
    const mac = createHmac('sha256', this.#macKey).update(password).digest('base64');
    const hit = this.#verified.get(username);
    if (hit && hit.stored === stored && hit.mac === mac) return principal;
    if (!(await verifyPassword(password, stored))) return undefined;
    this.#verified.set(username, { stored, mac });
    return principal;
  }

  #toSensor(r: SensorRow): SensorEntry {
    const e: SensorEntry = { hub: r.hub, domain: r.domain as Domain, sensor: r.sensor, username: deviceUsername(r.hub, r.sensor), createdAt: r.created_at };
    if (r.site) e.site = r.site;
    if (r.kind) e.kind = r.kind;
    return e;
  }
}
