import { describe, expect, it } from 'vitest';
import { LoginGuard, type LoginGuardOptions } from './login-guard.ts';

const OPTS: LoginGuardOptions = {
  username: { freeFailures: 3, lockoutAfter: 10 },
  address: { freeFailures: 20, lockoutAfter: 100 },
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  lockoutMs: 300_000,
  forgetAfterMs: 900_000,
};

function setup(opts: Partial<LoginGuardOptions> = {}): { guard: LoginGuard; clock: { t: number; now(): number } } {
  const clock = { t: 1_000_000, now() { return this.t; } };
  return { guard: new LoginGuard({ ...OPTS, ...opts }, clock), clock };
}

describe('failed-login backoff', () => {
  it('lets a device that mistyped once try again at once', () => {
    const { guard } = setup();
    guard.failed('demo.well-1', '10.0.0.5');
    expect(guard.check('demo.well-1', '10.0.0.5')).toBeUndefined();
  });

  it('doubles the delay after the free failures, up to the cap, then locks out', () => {
    const { guard, clock } = setup();
    const delays: number[] = [];
    for (let i = 1; i <= 9; i++) {
      guard.failed('demo.well-1', '10.0.0.5');
      const b = guard.check('demo.well-1', '10.0.0.5');
      delays.push(b?.retryInMs ?? 0);
      clock.t += b?.retryInMs ?? 0;
    }
    expect(delays).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 16000, 32000]);
    guard.failed('demo.well-1', '10.0.0.5');
    expect(guard.check('demo.well-1', '10.0.0.5')).toEqual({ reason: 'login_lockout', key: 'username', retryInMs: 300_000 });
    clock.t += 300_000;
    expect(guard.check('demo.well-1', '10.0.0.5')).toBeUndefined();
    // One more failure after a lockout locks again.
    guard.failed('demo.well-1', '10.0.0.5');
    expect(guard.check('demo.well-1', '10.0.0.5')?.reason).toBe('login_lockout');
  });

  it('caps the delay at maxDelayMs', () => {
    const { guard, clock } = setup({ username: { freeFailures: 0, lockoutAfter: 50 }, maxDelayMs: 5000 });
    let last = 0;
    for (let i = 0; i < 10; i++) {
      guard.failed('u', undefined);
      last = guard.check('u', undefined)?.retryInMs ?? 0;
      clock.t += last;
    }
    expect(last).toBe(5000);
  });

  it('clears the username on success, forgets after a quiet period, and keeps other users and addresses open', () => {
    const { guard, clock } = setup();
    for (let i = 0; i < 4; i++) guard.failed('demo.well-1', '10.0.0.5');
    expect(guard.check('demo.well-1', '10.0.0.6')?.key).toBe('username');
    expect(guard.check('demo.well-2', '10.0.0.5')).toBeUndefined();
    clock.t += 1000;
    guard.succeeded('demo.well-1');
    guard.failed('demo.well-1', '10.0.0.5');
    expect(guard.check('demo.well-1', '10.0.0.5')).toBeUndefined();
    for (let i = 0; i < 3; i++) guard.failed('demo.well-3', undefined);
    clock.t += 900_001;
    guard.failed('demo.well-3', undefined);
    expect(guard.check('demo.well-3', undefined)).toBeUndefined();
  });

  it('backs off an address spraying many usernames, whatever the username', () => {
    const { guard } = setup();
    for (let i = 0; i < 21; i++) guard.failed(`demo.s${i}`, '10.0.0.9');
    expect(guard.check('demo.never-tried', '10.0.0.9')).toMatchObject({ reason: 'login_backoff', key: 'address' });
    expect(guard.check('demo.never-tried', '10.0.0.10')).toBeUndefined();
  });

  it('bounds its memory', () => {
    const { guard } = setup({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) guard.failed(`u${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(guard.size()).toBeLessThanOrEqual(100);
  });
});
