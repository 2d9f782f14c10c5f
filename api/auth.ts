/**
 * The `steward-auth` plugin: bearer tokens from `config.http.tokens`, each with a role (`steward` or
 * `technician`). Tokens are compared in constant time (SHA-256 digests, every token checked), never
 * logged. Routes that need a role add `preHandler: app.requireRole('technician')`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ApiError } from './errors.ts';
import { definePlugin } from './plugin.ts';

/** API roles (a subset of the registry's account roles). */
export type ApiRole = 'steward' | 'technician';

/** Who made an authenticated request. */
export interface ApiPrincipal {
  /** The token's `name` in the config (never the token itself). */
  name: string;
  role: ApiRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request carried a valid bearer token. */
    principal: ApiPrincipal | null;
  }
  interface FastifyInstance {
    /** A preHandler answering 401 without a valid token and 403 when its role is not listed. */
    requireRole(...roles: ApiRole[]): preHandlerAsyncHookHandler;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Finds the token's entry, comparing against every configured token in constant time. */
export function matchToken(tokens: ReadonlyArray<{ name: string; token: string; role: ApiRole }>, presented: string): ApiPrincipal | null {
  const d = digest(presented);
  let found: ApiPrincipal | null = null;
  for (const t of tokens) {
    // No early exit: the time taken does not depend on which token (if any) matched.
    if (timingSafeEqual(d, digest(t.token)) && found === null) found = { name: t.name, role: t.role };
  }
  return found;
}

const challenge = { 'www-authenticate': 'Bearer realm="steward"' };

/** Decorates requests with `principal` and the instance with `requireRole`. */
export const authPlugin = definePlugin(
  async (app) => {
    const tokens = app.steward.config.http.tokens;
    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (header === undefined) return;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new ApiError('API_ERR_UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"', { headers: challenge });
      const p = matchToken(tokens, m[1] as string);
      // A wrong token is refused everywhere, even on public routes: a typo should not look like success.
      if (!p) throw new ApiError('API_ERR_UNAUTHORIZED', 'the bearer token is not valid', { headers: challenge });
      request.principal = p;
    });
    app.decorate('requireRole', (...roles: ApiRole[]): preHandlerAsyncHookHandler => {
      return async (request: FastifyRequest, _reply: FastifyReply) => {
        if (!request.principal) throw new ApiError('API_ERR_UNAUTHORIZED', `this endpoint needs a bearer token with role ${roles.join(' or ')}`, { headers: challenge });
        if (!roles.includes(request.principal.role))
          throw new ApiError('API_ERR_FORBIDDEN', `role ${request.principal.role} may not use this endpoint (needs ${roles.join(' or ')})`);
      };
    });
  },
  { name: 'steward-auth', dependencies: ['steward-context', 'steward-errors'] },
  { shared: true },
);
