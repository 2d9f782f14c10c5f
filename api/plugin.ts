/**
 * Named fastify plugins without the `fastify-plugin` package: the same metadata symbols fastify
 * reads (`plugin-meta` for name and dependencies, `skip-override` to share decorators and hooks with
 * the parent scope). See fastify `docs/Reference/Encapsulation.md` and `lib/plugin-utils.js`.
 */
import type { FastifyPluginAsync } from 'fastify';

export interface PluginMeta {
  /** Registered name; other plugins list it in `dependencies`. */
  name: string;
  /** Names of plugins that must be registered before this one (checked at registration). */
  dependencies?: string[];
  /** Decorators that must exist on the instance, request or reply before this one registers. */
  decorators?: { fastify?: string[]; request?: string[]; reply?: string[] };
}

/**
 * Names a plugin and declares its dependencies. With `shared: true` its hooks and decorators apply
 * to the parent scope (infrastructure: context, errors, auth); without, it is encapsulated
 * (resources under `routes/`).
 */
export function definePlugin<Opts extends Record<string, unknown> = Record<never, never>>(
  fn: FastifyPluginAsync<Opts>,
  meta: PluginMeta,
  opts: { shared?: boolean } = {},
): FastifyPluginAsync<Opts> {
  const f = fn as FastifyPluginAsync<Opts> & Record<symbol, unknown>;
  f[Symbol.for('plugin-meta')] = meta;
  f[Symbol.for('fastify.display-name')] = meta.name;
  if (opts.shared) f[Symbol.for('skip-override')] = true;
  return f;
}
