/**
 * zod as fastify's schema language, through `fastify-type-provider-zod`: route schemas are zod
 * schemas (query parameters from api/schemas.ts, answers from core/views.ts), validated and
 * serialised by the library's compilers and turned into JSON Schema for the OpenAPI document by
 * its transform. What is ours: a missing request part reads as `{}`, every route documents the
 * error body, and validation errors name the parameter at fault (`describeValidation`, used by
 * the error handler).
 */
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';

export type { ZodTypeProvider } from 'fastify-type-provider-zod';

/**
 * The library's validator, with an absent part (fastify passes `null`) read as `{}`: an
 * acknowledgement without a body is one without a comment, and a missing body names its fields.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const validate = validatorCompiler(route);
  return (data: unknown) => validate(data ?? {});
};

const PART_LABEL: Record<string, 'query' | 'path' | 'body' | 'header'> = { querystring: 'query', params: 'path', body: 'body', headers: 'header' };

function label(part: string, name: string): string {
  const where = PART_LABEL[part] ?? part;
  return where === 'query' ? `query parameter "${name}"` : where === 'path' ? `path parameter "${name}"` : where === 'body' ? `body field "${name}"` : `header "${name}"`;
}

/**
 * One message naming every bad parameter of a zod validation failure (the issues as the library
 * reports them), e.g. `query parameter "metric": unknown metric "rain"; query parameter "window":
 * must look like 5m`. `data` is the request part as sent (to tell "missing" from "invalid").
 */
export function describeValidation(issues: readonly FastifySchemaValidationError[], part: string, data: unknown): { message: string; parameter: string } {
  const msgs: string[] = [];
  let first = '';
  for (const issue of issues) {
    if (issue.keyword === 'unrecognized_keys') {
      for (const k of (issue.params as { keys?: string[] }).keys ?? []) {
        msgs.push(`unknown ${label(part, k)}`);
        first ||= k;
      }
      continue;
    }
    const path = issue.instancePath.split('/').slice(1).filter((p) => p !== '');
    const name = path.length ? path.join('.') : '(root)';
    first ||= name;
    const top = path[0] as string;
    const missing = path.length === 1 && typeof data === 'object' && data !== null && (!Object.hasOwn(data, top) || (data as Record<string, unknown>)[top] === undefined);
    msgs.push(`${label(part, name)}: ${missing ? 'is required' : issue.message}`);
  }
  return { message: msgs.join('; '), parameter: first };
}

/** JSON Schema of the error body, listed as the default response of every route. */
export const errorResponseJsonSchema = {
  type: 'object',
  description: 'Error: `code` is stable (see api/README.md), `message` names the bad parameter',
  required: ['statusCode', 'error', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
    parameter: { type: 'string', description: 'the parameter at fault (validation errors)' },
  },
} as const;

type Transform = (doc: { schema: Record<string, unknown> | undefined; url: string; route?: unknown; openapiObject?: unknown }) => { schema: Record<string, unknown>; url: string };

/**
 * `@fastify/swagger` transform: the library's (request parts as input types, responses as output
 * types), plus the error body as the default response of every route.
 */
export const openApiTransform: Transform = (doc) => {
  const out = (jsonSchemaTransform as unknown as Transform)(doc);
  const schema: Record<string, unknown> = { ...out.schema };
  if (schema.hide) return { schema, url: out.url };
  schema.response = { default: errorResponseJsonSchema, ...(schema.response as Record<string, unknown> | undefined) };
  return { schema, url: out.url };
};

/** The `steward-zod` plugin: zod validator and serializer compilers for every route. */
export const zodPlugin = fp(
  async (app) => {
    app.setValidatorCompiler(zodValidatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
  },
  { name: 'steward-zod' },
);
