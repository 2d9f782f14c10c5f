/**
 * The `steward-auth` plugin: bearer tokens with a role (`steward` or `technician`) and optionally
 * the hubs they are limited to. Two sources:
 *
 * - tokens made with `steward tokens add` (the registry, SQLite): only a keyed hash is stored, and
 *   the token is looked up at every request, so `steward tokens revoke` and expiry take effect at
 *   the next request, in every process sharing the data dir, without a restart;
 * - tokens written in the config (`http.tokens`), compared in constant time (SHA-256 digests, every
 *   token checked).
 *
 * Tokens are never logged. Routes that need a role add `onRequest: app.requireRole('technician')`,
 * so the role is checked before the body is validated: an unauthenticated request gets 401 whatever
 * its body. Routes over one hub's raw data or alerts also call `assertHub(request, hub)` (403).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError, invalidParameter } from './errors.ts';

/** API roles (a subset of the registry's account roles). */
export type ApiRole = 'steward' | 'technician';

/** Who made an authenticated request. */
export interface ApiPrincipal {
  /** The token's name (never the token itself). */
  name: string;
  role: ApiRole;
  /** The hubs it may read raw data and alerts of, and act on; undefined = every hub. */
  hubs?: string[];
}

/** A hook answering 401 without a valid token and 403 when its role is not listed. */
export type RoleHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request carried a valid bearer token. */
    principal: ApiPrincipal | null;
  }
  interface FastifyInstance {
    /** An onRequest hook answering 401 without a valid token and 403 when its role is not listed. */
    requireRole(...roles: ApiRole[]): RoleHook;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Finds the token's entry, comparing against every configured token in constant time. */
export function matchToken(tokens: ReadonlyArray<{ name: string; token: string; role: ApiRole; hubs?: string[] | undefined }>, presented: string): ApiPrincipal | null {
  const d = digest(presented);
  let found: ApiPrincipal | null = null;
  for (const t of tokens) {
    // No early exit: the time taken does not depend on which token (if any) matched.
    if (timingSafeEqual(d, digest(t.token)) && found === null) found = t.hubs?.length ? { name: t.name, role: t.role, hubs: [...t.hubs] } : { name: t.name, role: t.role };
  }
  return found;
}

const challenge = { 'www-authenticate': 'Bearer realm="steward"' };

/** True when the principal may see and act on `hub` (no principal or no hub list: every hub). */
export function mayUseHub(principal: ApiPrincipal | null | undefined, hub: string): boolean {
  return !principal?.hubs || principal.hubs.includes(hub);
}

/** Throws 403 when the request's token is limited to other hubs than `hub`. */
export function assertHub(request: FastifyRequest, hub: string, what = 'this'): void {
  const p = request.principal;
  if (!mayUseHub(p, hub)) throw new ApiError('API_ERR_FORBIDDEN', `token ${p?.name} is limited to hub${p?.hubs?.length === 1 ? '' : 's'} ${p?.hubs?.join(', ')}; ${what} belongs to hub ${hub}`);
}

/** The hubs the request's token is limited to, or undefined for every hub. */
export function hubsOf(request: FastifyRequest): string[] | undefined {
  return request.principal?.hubs;
}

/**
 * The hub a query over one hub's data is about: `asked`, else the one hub the request's token is
 * limited to, else undefined (every hub). 400 naming `hub` when the token is limited to several
 * hubs and none is asked; 403 when `asked` is not one of them.
 */
export function queryHub(request: FastifyRequest, asked: string | undefined, what: string): string | undefined {
  const hubs = hubsOf(request);
  const hub = asked ?? (hubs?.length === 1 ? hubs[0] : undefined);
  if (hubs && hub === undefined) throw invalidParameter('hub', `token ${request.principal?.name} is limited to hubs ${hubs.join(', ')}: say which with "hub"`);
  if (hub !== undefined) assertHub(request, hub, what);
  return hub;
}

/** Decorates requests with `principal` and the instance with `requireRole`. */
export const authPlugin = fp(
  async (app) => {
    const tokens = app.steward.config.http.tokens;
    // Optional: some tests register the auth plugin over a context holding only the config.
    const registry = app.steward.registry as typeof app.steward.registry | undefined;
    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (header === undefined) return;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new ApiError('API_ERR_UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"', { headers: challenge });
      const presented = m[1] as string;
      let p = matchToken(tokens, presented);
      if (!p && registry) {
        const t = registry.findToken(presented, app.steward.clock?.now() ?? Date.now());
        if (t?.expired) throw new ApiError('API_ERR_UNAUTHORIZED', `the bearer token ${t.name} expired on ${new Date(t.expiresAt as number).toISOString()}`, { headers: challenge });
        if (t) p = t.hubs ? { name: t.name, role: t.role, hubs: t.hubs } : { name: t.name, role: t.role };
      }
      // A wrong token is refused everywhere, even on public routes: a typo should not look like success.
      if (!p) throw new ApiError('API_ERR_UNAUTHORIZED', 'the bearer token is not valid', { headers: challenge });
      request.principal = p;
    });
    app.decorate('requireRole', (...roles: ApiRole[]): RoleHook => {
      return async (request: FastifyRequest) => {
        if (!request.principal) throw new ApiError('API_ERR_UNAUTHORIZED', `this endpoint needs a bearer token with role ${roles.join(' or ')}`, { headers: challenge });
        if (!roles.includes(request.principal.role))
          throw new ApiError('API_ERR_FORBIDDEN', `role ${request.principal.role} may not use this endpoint (needs ${roles.join(' or ')})`);
      };
    });
  },
  { name: 'steward-auth', dependencies: ['steward-context', 'steward-errors'] },
);
