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

/** A reading refused by the pipeline, with a reason a technician can act on. */
export class RejectionError extends Error {
  override readonly name = 'RejectionError';
  constructor(
    readonly code: RejectionCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Configuration errors name the key (or file) at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'STEWARD_ERR_CONFIG';
}
