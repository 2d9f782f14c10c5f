import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BROKER_ERRORS, BrokerError, REFUSAL_REASONS } from './errors.ts';
import type { GuardRejection } from './guard.ts';

const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');

describe('broker errors and refusal reasons', () => {
  it('broker/README.md lists exactly the error codes of errors.ts', () => {
    const rows = [...readme.matchAll(/^\| `(BROKER_ERR_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(Object.entries(BROKER_ERRORS));
  });

  it('broker/README.md lists exactly the refusal reasons counted in metrics', () => {
    const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(Object.entries(REFUSAL_REASONS));
  });

  it('covers every reason the byte guard can give', () => {
    const guardReasons: Record<GuardRejection, true> = { first_not_connect: true, packet_too_large: true, malformed_packet: true, invalid_topic: true };
    for (const r of Object.keys(guardReasons)) expect(REFUSAL_REASONS).toHaveProperty(r);
  });

  it('carries a stable code and the cause', () => {
    const cause = new Error('EADDRINUSE');
    const e = new BrokerError('BROKER_ERR_LISTEN', 'cannot listen', { cause });
    expect([e.name, e.code, e.cause]).toEqual(['BrokerError', 'BROKER_ERR_LISTEN', cause]);
  });
});
