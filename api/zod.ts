/**
 * zod as fastify's schema language: route schemas are zod schemas (built from the contract's
 * schemas in core/), validated and serialised by the compilers below, and turned into JSON Schema
 * for the OpenAPI document by `openApiTransform` (zod 4's `z.toJSONSchema`, no extra dependency).
 */
import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { z } from 'zod';
import { ApiError } from './errors.ts';
import { definePlugin } from './plugin.ts';

/** Lets handlers see the parsed (output) type of their zod schemas. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** True for a zod schema (zod 4 keeps its internals under `_zod`). */
export function isZodSchema(s: unknown): s is z.ZodType {
  return typeof s === 'object' && s !== null && '_zod' in s;
}

const PART_LABEL: Record<string, 'query' | 'path' | 'body' | 'header'> = { querystring: 'query', params: 'path', body: 'body', headers: 'header' };

function label(part: string, name: string): string {
  const where = PART_LABEL[part] ?? part;
  return where === 'query' ? `query parameter "${name}"` : where === 'path' ? `path parameter "${name}"` : where === 'body' ? `body field "${name}"` : `header "${name}"`;
}

/**
 * One message naming every bad parameter, e.g.
 * `query parameter "metric": unknown metric "rain"; query parameter "window": must look like 5m`.
 */
export function describeZodError(err: z.ZodError, part: string, data: unknown): { message: string; parameter: string } {
  const msgs: string[] = [];
  let first = '';
  for (const issue of err.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        msgs.push(`unknown ${label(part, k)}`);
        first ||= k;
      }
      continue;
    }
    const name = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    first ||= name;
    const top = issue.path[0];
    const missing =
      issue.path.length === 1 &&
      typeof data === 'object' &&
      data !== null &&
      (!Object.hasOwn(data, top as PropertyKey) || (data as Record<PropertyKey, unknown>)[top as PropertyKey] === undefined);
    msgs.push(`${label(part, name)}: ${missing ? 'is required' : issue.message}`);
  }
  return { message: msgs.join('; '), parameter: first };
}

/** Validator compiler: parses with the route's zod schema; the parsed value replaces the input. */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  if (!isZodSchema(schema)) throw new TypeError(`route schema for ${httpPart ?? 'request'} must be a zod schema`);
  return (data: unknown) => {
    const r = schema.safeParse(data ?? {});
    if (r.success) return { value: r.data };
    const { message, parameter } = describeZodError(r.error, httpPart ?? 'request', data);
    return { error: new ApiError('API_ERR_VALIDATION', message, { parameter, cause: r.error }) };
  };
};

/**
 * Serializer compiler: the response goes through its zod schema before it is sent, so a field the
 * schema does not list (objects strip unknown keys) never leaves the API, and a malformed response
 * is a 500 rather than a surprise for clients.
 */
export const zodSerializerCompiler: FastifySerializerCompiler<z.ZodType> = ({ schema }) => {
  if (!isZodSchema(schema)) return (data: unknown) => JSON.stringify(data);
  return (data: unknown) => JSON.stringify(schema.parse(data));
};

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of a zod schema, without the `$schema` key. */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  return rest;
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

/**
 * `@fastify/swagger` transform: converts the zod schemas of a route to JSON Schema (request parts
 * as input types, responses as output types) and adds the error body as the default response.
 */
export function openApiTransform({ schema, url }: { schema: Record<string, unknown> | undefined; url: string }): { schema: Record<string, unknown>; url: string } {
  if (!schema) return { schema: { response: { default: errorResponseJsonSchema } }, url };
  const out: Record<string, unknown> = { ...schema };
  for (const part of ['querystring', 'params', 'body', 'headers'] as const) {
    const s = schema[part];
    if (isZodSchema(s)) out[part] = toJsonSchema(s, 'input');
  }
  const response: Record<string, unknown> = {};
  const given = (schema.response ?? {}) as Record<string, unknown>;
  for (const [status, s] of Object.entries(given)) response[status] = isZodSchema(s) ? toJsonSchema(s, 'output') : s;
  response.default ??= errorResponseJsonSchema;
  out.response = response;
  return { schema: out, url };
}

/** The `steward-zod` plugin: zod validator and serializer compilers for every route. */
export const zodPlugin = definePlugin(
  async (app) => {
    app.setValidatorCompiler(zodValidatorCompiler);
    app.setSerializerCompiler(zodSerializerCompiler);
  },
  { name: 'steward-zod' },
  { shared: true },
);
