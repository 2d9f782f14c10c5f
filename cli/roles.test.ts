import { describe, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/log.ts';
import { runUntilSignal, type RoleHandle } from './roles.ts';

describe('runUntilSignal', () => {
  const SIG = 'SIGUSR2' as const;

  it('on a signal stops the roles in reverse order of start, then exits 0', async () => {
    const order: string[] = [];
    const handles: RoleHandle[] = ['storage', 'broker', 'api', 'ingest', 'sim'].map((name) => ({
      name,
      stop: async () => {
        await new Promise((r) => setTimeout(r, 5));
        order.push(name);
      },
    }));
    const exits: number[] = [];
    const done = runUntilSignal(handles, silentLogger, { signals: [SIG], exit: (c) => void exits.push(c) });
    process.emit(SIG, SIG);
    expect(await done).toBe(0);
    expect(order).toEqual(['sim', 'ingest', 'api', 'broker', 'storage']);
    expect(exits).toEqual([0]);
    expect(process.listenerCount(SIG)).toBe(0);
  });

  it('keeps stopping the others when one fails, and exits 1', async () => {
    const order: string[] = [];
    const handles: RoleHandle[] = [
      { name: 'broker', stop: async () => void order.push('broker') },
      { name: 'ingest', stop: async () => Promise.reject(new Error('spool locked')) },
    ];
    const exits: number[] = [];
    const done = runUntilSignal(handles, silentLogger, { signals: [SIG], exit: (c) => void exits.push(c) });
    process.emit(SIG, SIG);
    expect(await done).toBe(1);
    expect(order).toEqual(['broker']);
    expect(exits).toEqual([1]);
  });

  it('a second signal exits 1 at once', async () => {
    let release!: () => void;
    const handles: RoleHandle[] = [{ name: 'ingest', stop: () => new Promise<void>((r) => (release = r)) }];
    const exits: number[] = [];
    const done = runUntilSignal(handles, silentLogger, { signals: [SIG], exit: (c) => void exits.push(c) });
    process.emit(SIG, SIG);
    process.emit(SIG, SIG);
    expect(exits).toEqual([1]);
    release();
    await done;
  });
});
