/**
 * Coded errors of the storage package. `RetryableStorageError` (core/store.ts) says "keep the
 * data and try again later"; `StorageError` says "this input or query is wrong, retrying will not
 * help". docs/storage.md lists the same codes.
 */
import { createError } from '../core/errors.ts';

export const STORAGE_ERROR_CODES = {
  /** A reading cannot be stored as it is (non-id tag, unknown metric, no metrics, NaN…). */
  STORAGE_ERR_INVALID_POINT: 'the reading cannot be turned into a storage point',
  /** A read was asked with an invalid filter (non-id hub or sensor, unknown metric, bad window). */
  STORAGE_ERR_INVALID_QUERY: 'the query parameters are invalid',
  /** The server refused or failed a read for a reason retrying will not fix (e.g. database not found). */
  STORAGE_ERR_QUERY_FAILED: 'the storage server refused the query',
  /** A method that needs open files was called before `start()` or after `stop()`. */
  STORAGE_ERR_NOT_STARTED: 'the store is not started',
} as const;

export type StorageErrorCode = keyof typeof STORAGE_ERROR_CODES;

/** A storage failure that retrying will not fix. */
export const StorageError = createError<StorageErrorCode>('StorageError');
export type StorageError = InstanceType<typeof StorageError>;
