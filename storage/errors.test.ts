import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorReason } from './influx.ts';
import { STORAGE_ERROR_CODES } from './errors.ts';

describe('storage errors', () => {
  it('every code is documented in docs/storage.md', () => {
    const doc = readFileSync(new URL('../docs/storage.md', import.meta.url), 'utf8');
    for (const code of Object.keys(STORAGE_ERROR_CODES)) expect(doc).toContain(`\`${code}\``);
  });

  it('the server reason is taken from 1.x, 2.x and 3.x error bodies', () => {
    expect(errorReason('{"error":"partial write: field type conflict"}')).toBe('partial write: field type conflict');
    expect(errorReason('{"code":"invalid","message":"unable to parse"}')).toBe('unable to parse');
    expect(errorReason('{"error":"partial write of line protocol occurred","data":[{"original_line":"x","line_number":1,"error_message":"invalid column type"}]}')).toBe(
      'partial write of line protocol occurred: invalid column type',
    );
    expect(errorReason('404 page not found\n')).toBe('404 page not found');
    expect(errorReason('', 'from the header')).toBe('from the header');
    expect(errorReason('')).toBe('(no message)');
  });
});
