/**
 * The API on a socket. `startApi` builds the app (api/app.ts) and listens; `close()` stops
 * accepting, lets in-flight requests finish and closes the socket.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type ApiOptions } from './app.ts';

export interface RunningApi {
  /** `http://host:port` actually bound (port 0 resolves to the chosen port). */
  url: string;
  /** The fastify instance (for tests and wiring). */
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Builds and listens. `host` defaults to config.http.host, `port` to config.http.port (0 = any
 * free port). Throws if the port is taken (EADDRINUSE).
 */
export async function startApi(opts: ApiOptions & { host?: string; port?: number }): Promise<RunningApi> {
  const app = await buildApp(opts);
  const host = opts.host ?? opts.config.http.host;
  const port = opts.port ?? opts.config.http.port;
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${bound}`,
    app,
    close: () => (closed ??= app.close()),
  };
}
