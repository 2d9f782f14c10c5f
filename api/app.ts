/**
 * The HTTP API as a fastify instance that never listens (api/server.ts does): tests drive it with
 * `app.inject()`, the roles wire it to a socket. Infrastructure is a chain of named plugins
 * (context -> errors -> zod -> auth -> rate limit -> OpenAPI), each resource a plugin under routes/;
 * the routes of open data, alerts and the console only when their service is given (api/services.ts).
 * api/README.md lists the routes.
 */
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { systemClock } from '../core/clock.ts';
import { packageVersion } from '../core/paths.ts';
import { authPlugin } from './auth.ts';
import { type ApiContext, type ApiOptions, contextPlugin, STREAM_DEFAULTS } from './context.ts';
import { errorsPlugin, notFoundPlugin } from './error-handler.ts';
import { ApiError } from './errors.ts';
import alertsRoutes from './routes/alerts/index.ts';
import catalogueRoutes from './routes/catalogue/index.ts';
import consoleRoutes from './routes/console/index.ts';
import healthRoutes from './routes/health/index.ts';
import metricsRoutes from './routes/metrics/index.ts';
import publicRoutes from './routes/public/index.ts';
import readingsRoutes from './routes/readings/index.ts';
import rejectionsRoutes from './routes/rejections/index.ts';
import sensorsRoutes from './routes/sensors/index.ts';
import { openApiTransform, zodPlugin } from './zod.ts';

export type { ApiOptions, ApiContext, HealthProbes, SensorState, StreamOptions } from './context.ts';
export type { AlertsService, ApiServices, ConsoleService, PolicyService } from './services.ts';

const VERSION = packageVersion();

/** Log paths that could carry a secret; pino replaces them with "[Redacted]". */
export const REDACTED_LOG_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization', 'token', '*.token', 'password', '*.password'];

/** Every request at debug, not info (at info a terminal would show little else); failures stay at error. */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }
  override requestCompleted(error: Error | null | undefined, _request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * Builds the API without listening. Resolves once every plugin is loaded (`app.ready()`).
 * Throws if a plugin's dependencies are missing (a wiring bug, caught by any test).
 */
export async function buildApp(opts: ApiOptions): Promise<FastifyInstance> {
  const context: ApiContext = Object.freeze({
    config: opts.config,
    store: opts.store,
    deadLetters: opts.deadLetters,
    registry: opts.registry,
    metrics: opts.metrics,
    health: opts.health ?? {},
    sensorStatus: opts.sensorStatus,
    clock: opts.clock ?? systemClock,
    onlineWindowMs: opts.onlineWindowMs ?? 15 * 60_000,
    readyTimeoutMs: opts.readyTimeoutMs ?? 2000,
    stream: { ...STREAM_DEFAULTS, ...opts.stream },
  });
  const services = opts.services ?? {};
  const logger = opts.logger.child({ role: 'api' }, { redact: REDACTED_LOG_PATHS });
  const app = Fastify({ loggerInstance: logger, trustProxy: false, return503OnClosing: true, logController: new DebugRequestLogs() });

  await app.register(contextPlugin, { context, services });
  await app.register(errorsPlugin);
  await app.register(zodPlugin);
  await app.register(authPlugin);
  const { max, timeWindowMs } = opts.config.http.rateLimit;
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: timeWindowMs,
    // Requests with a valid bearer token (checked by steward-auth, which runs first) are not limited.
    allowList: (request) => request.principal !== null,
    errorResponseBuilder: (_request, ctx) =>
      new ApiError('API_ERR_RATE_LIMITED', `too many requests from this address (at most ${ctx.max} per ${Math.round(timeWindowMs / 1000)} s without a token); retry in ${ctx.after}`),
  });
  await app.register(notFoundPlugin);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Steward API',
        version: VERSION,
        description: 'Readings of the commons a resilience hub stewards (water, soil carbon, energy, biodiversity), after the privacy boundary.',
      },
      tags: [
        { name: 'data', description: 'Sensors and readings' },
        { name: 'contract', description: 'Metric catalogue and payload schemas' },
        { name: 'operations', description: 'Health, readiness, metrics, dead letters' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `steward tokens add` or from http.tokens in the config' } } },
    },
    transform: openApiTransform as never,
  });

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(
    async (v1) => {
      await v1.register(sensorsRoutes);
      await v1.register(readingsRoutes);
      await v1.register(rejectionsRoutes);
      await v1.register(catalogueRoutes);
      if (services.policy) await v1.register(publicRoutes);
      if (services.alerts) await v1.register(alertsRoutes);
    },
    { prefix: '/api/v1' },
  );
  if (services.console) await app.register(consoleRoutes);
  app.get('/openapi.json', { schema: { summary: 'This OpenAPI 3.1 document', tags: ['contract'] } }, async () => app.swagger());

  await app.ready();
  return app as unknown as FastifyInstance;
}
