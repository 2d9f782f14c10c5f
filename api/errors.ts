/**
 * Coded API errors. Every error response is JSON `{ statusCode, error, code, message }` (plus
 * `parameter` for validation errors), with a message naming what was wrong. api/README.md lists
 * the same codes; errors.test.ts keeps them in step.
 */
import { STATUS_CODES } from 'node:http';
import { createHttpError } from '../core/errors.ts';

/** Stable error codes with their HTTP status. */
export const API_ERRORS = {
  API_ERR_VALIDATION: { status: 400, description: 'a query parameter, path parameter or body field is missing or invalid (the message names it)' },
  API_ERR_BAD_REQUEST: { status: 400, description: 'the request cannot be read (malformed JSON, unsupported content type, body too large…)' },
  API_ERR_UNAUTHORIZED: { status: 401, description: 'a bearer token is required, or the one given is not valid' },
  API_ERR_FORBIDDEN: { status: 403, description: "the token's role may not use this endpoint, or the resource belongs to a hub the token is not limited to" },
  API_ERR_NOT_FOUND: { status: 404, description: 'no such route or resource' },
  API_ERR_RATE_LIMITED: { status: 429, description: 'too many unauthenticated requests from this address; retry after the Retry-After delay' },
  API_ERR_INTERNAL: { status: 500, description: 'an unexpected error (logged with the request id)' },
  API_ERR_NOT_READY: { status: 503, description: 'a part of the pipeline is down (the body says which)' },
  API_ERR_STORAGE_UNAVAILABLE: { status: 503, description: 'storage did not answer; retry after the Retry-After delay' },
  API_ERR_UNAVAILABLE: { status: 503, description: 'this process does not serve that resource (e.g. no dead-letter store)' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An error the API answers with its own status, code and message. */
export class ApiError extends createHttpError<ApiErrorCode>('ApiError', API_ERRORS) {
  /** Extra fields merged into the response body (e.g. readiness checks). */
  readonly extra: Record<string, unknown> | undefined;
  /** Response headers to set (e.g. Retry-After). */
  readonly headers: Record<string, string> | undefined;

  constructor(code: ApiErrorCode, message: string, opts: { cause?: unknown; parameter?: string; extra?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.extra = opts.parameter === undefined ? opts.extra : { parameter: opts.parameter, ...opts.extra };
    this.headers = opts.headers;
  }
}

/** Shape of every error body. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: ApiErrorCode;
  message: string;
  [extra: string]: unknown;
}

/** Builds the JSON body of an error response. */
export function errorBody(code: ApiErrorCode, message: string, extra?: Record<string, unknown>, statusCode: number = API_ERRORS[code].status): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message, ...extra };
}

/** A validation error naming the offending parameter. */
export function invalidParameter(parameter: string, message: string, where: 'query' | 'path' | 'body' = 'query'): ApiError {
  const label = where === 'query' ? 'query parameter' : where === 'path' ? 'path parameter' : 'body field';
  return new ApiError('API_ERR_VALIDATION', `${label} "${parameter}": ${message}`, { parameter });
}
