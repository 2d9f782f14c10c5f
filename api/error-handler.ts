/**
 * The `steward-errors` plugin: one error handler and one not-found handler, so every error leaves
 * as `{ statusCode, error, code, message }`. Internal details (stack, storage messages) are logged
 * with the request id, never sent.
 */
import type {} from '@fastify/rate-limit';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { StorageError } from '../storage/index.ts';
import { RetryableStorageError } from '../core/store.ts';
import { ApiError, type ApiErrorCode, errorBody } from './errors.ts';
import { describeValidation } from './zod.ts';

/** The request part fastify validated, as sent. */
function partOf(request: FastifyRequest, part: string): unknown {
  return part === 'querystring' ? request.query : part === 'params' ? request.params : part === 'body' ? request.body : part === 'headers' ? request.headers : undefined;
}

function classify(err: FastifyError | ApiError | Error, request: FastifyRequest): { status: number; code: ApiErrorCode; message: string; extra?: Record<string, unknown>; headers?: Record<string, string> } {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const part = err.validationContext ?? 'request';
    const { message, parameter } = describeValidation(err.validation, part, partOf(request, part));
    return { status: 400, code: 'API_ERR_VALIDATION', message, extra: { parameter } };
  }
  if (err instanceof ApiError) {
    const r: ReturnType<typeof classify> = { status: err.statusCode, code: err.code, message: err.message };
    if (err.extra) r.extra = err.extra;
    if (err.headers) r.headers = err.headers;
    return r;
  }
  if (err instanceof RetryableStorageError) {
    const after = Math.max(1, Math.ceil((err.retryAfterMs ?? 5000) / 1000));
    return { status: 503, code: 'API_ERR_STORAGE_UNAVAILABLE', message: 'storage is not answering, retry later', headers: { 'retry-after': String(after) } };
  }
  // The routes validate first; a store refusing a query anyway is still the caller's input.
  if (err instanceof StorageError && err.code === 'STORAGE_ERR_INVALID_QUERY') return { status: 400, code: 'API_ERR_VALIDATION', message: err.message };
  const status = (err as FastifyError).statusCode ?? 500;
  if (status === 429) return { status, code: 'API_ERR_RATE_LIMITED', message: err.message };
  if (status === 403) return { status, code: 'API_ERR_FORBIDDEN', message: err.message };
  if (status === 401) return { status, code: 'API_ERR_UNAUTHORIZED', message: err.message };
  if (status === 404) return { status, code: 'API_ERR_NOT_FOUND', message: err.message };
  if ((err as FastifyError).code === 'FST_ERR_VALIDATION') return { status: 400, code: 'API_ERR_VALIDATION', message: err.message };
  if (status >= 400 && status < 500) return { status, code: 'API_ERR_BAD_REQUEST', message: err.message };
  return { status: 500, code: 'API_ERR_INTERNAL', message: 'internal error' };
}

async function handleError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const c = classify(err, request);
  if (c.status >= 500 && c.code === 'API_ERR_INTERNAL') request.log.error({ err }, 'request failed');
  else if (c.status >= 500) request.log.warn({ code: c.code, err }, c.message);
  else request.log.info({ code: c.code, statusCode: c.status }, c.message);
  const message = c.code === 'API_ERR_INTERNAL' ? `internal error (request id ${request.id})` : c.message;
  if (c.headers) void reply.headers(c.headers);
  return reply.code(c.status).type('application/json; charset=utf-8').send(errorBody(c.code, message, c.extra, c.status));
}

/** Registers the error handler on the root instance. */
export const errorsPlugin = fp(
  async (app) => {
    app.setErrorHandler(handleError);
  },
  { name: 'steward-errors' },
);

/**
 * Registers the not-found handler, after the rate limiter so unknown routes count against the
 * same budget (no free probing).
 */
export const notFoundPlugin = fp(
  async (app) => {
    app.setNotFoundHandler({ preHandler: app.rateLimit() }, (request, reply) =>
      reply.code(404).send(errorBody('API_ERR_NOT_FOUND', `no route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}; see /openapi.json for the routes`)),
    );
  },
  { name: 'steward-not-found', dependencies: ['steward-errors', '@fastify/rate-limit'] },
);
