/**
 * Rejection reasons: stable codes for everything ingest refuses. Metrics count rejections by
 * `code`; the dead letter keeps the full message. docs/errors.md lists the same codes (a test
 * keeps them in step).
 */

export const REJECTION_CODES = {
  payload_too_large: 'payload exceeds the configured size limit',
  invalid_utf8: 'payload is not valid UTF-8',
  malformed_json: 'payload is not valid JSON',
  schema: 'payload does not match the reading schema',
  non_finite: 'a number is NaN or Infinity',
  unknown_metric: 'metric is not in the catalogue',
  wrong_domain: "metric belongs to another domain than the topic's",
  unit: 'unit cannot be converted to the canonical unit',
  out_of_range: 'value is outside the plausible range',
  future_timestamp: 'timestamp is further in the future than the allowed skew',
  bad_topic: 'topic is not csm/v1/{hub}/{domain}/{sensor}/data with valid ids',
  unregistered_sensor: 'sensor is not registered',
  topic_mismatch: 'topic does not match the sender',
  unregistered_id: 'site or kind in the payload is not the one registered for the sensor',
  storage_rejected: 'storage refused the point (e.g. field type conflict)',
  privacy_failed: 'the privacy filter could not process the reading; withheld (fail closed)',
} as const;

export type RejectionCode = keyof typeof REJECTION_CODES;

/** An error with a stable `code`, one of its role's table of codes. */
export interface CodedError<C extends string> extends Error {
  readonly code: C;
}

/** The class {@link createError} makes: `new X(code, message, { cause })`, `instanceof X`. */
export interface CodedErrorClass<C extends string> {
  new (code: C, message: string, options?: { cause?: unknown }): CodedError<C>;
  readonly prototype: CodedError<C>;
}

/**
 * Makes a role's coded error class: instances have `name` (also the class's name), `code`,
 * `message` and `cause`. A role declares `export const XError = createError<XErrorCode>('XError')`
 * and `export type XError = InstanceType<typeof XError>`; a subclass may add fields.
 */
export function createError<C extends string>(name: string): CodedErrorClass<C> {
  const coded = class extends Error {
    override readonly name: string = name;
    readonly code: C;
    constructor(code: C, message: string, options?: { cause?: unknown }) {
      super(message, options);
      this.code = code;
    }
  };
  Object.defineProperty(coded, 'name', { value: name });
  return coded;
}

/** A coded error an HTTP API answers with the status of its code. */
export interface HttpCodedError<C extends string> extends CodedError<C> {
  readonly statusCode: number;
}

/** The class {@link createHttpError} makes. */
export interface HttpCodedErrorClass<C extends string> {
  new (code: C, message: string, options?: { cause?: unknown }): HttpCodedError<C>;
  readonly prototype: HttpCodedError<C>;
}

/**
 * {@link createError} for a role whose codes map to HTTP statuses: instances also carry
 * `statusCode`, the code's `status` in `table` (500 where it is 0, a code with no answer of its own).
 */
export function createHttpError<C extends string>(name: string, table: Readonly<Record<C, { readonly status: number }>>): HttpCodedErrorClass<C> {
  const coded = class extends createError<C>(name) {
    readonly statusCode: number;
    constructor(code: C, message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.statusCode = table[code].status || 500;
    }
  };
  Object.defineProperty(coded, 'name', { value: name });
  return coded;
}

/** A reading refused by the pipeline, with a reason a technician can act on. */
export const RejectionError = createError<RejectionCode>('RejectionError');
export type RejectionError = InstanceType<typeof RejectionError>;

/** Configuration errors name the key (or file) at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'STEWARD_ERR_CONFIG';
}
