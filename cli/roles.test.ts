import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/log.ts';
import { parseConfig } from '../core/config.ts';
import { getSimulator } from '../simulators/index.ts';
import { createFleetSimulation, demoFleet, type FleetEntry } from '../simulators/index.ts';
import { runUntilSignal, withConfigIntervals, type RoleHandle } from './roles.ts';

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

  it('exits 1 when a role does not stop within the deadline, naming that role', async () => {
    const lines: Array<{ msg: string; role?: string }> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; role?: string }) });
    const stopped: string[] = [];
    const handles: RoleHandle[] = [
      { name: 'storage', stop: async () => void stopped.push('storage') },
      { name: 'ingest', stop: () => new Promise<void>(() => undefined) },
    ];
    const exits: number[] = [];
    const done = runUntilSignal(handles, logger, { signals: [SIG], exit: (c) => void exits.push(c), deadlineMs: 50 });
    process.emit(SIG, SIG);
    expect(await done).toBe(1);
    expect(exits).toEqual([1]);
    expect(stopped).toEqual([]);
    expect(lines.find((l) => l.msg.startsWith('shutdown did not finish within 50 ms'))?.role).toBe('ingest');
    expect(process.listenerCount(SIG)).toBe(0);
  });
});

describe('simulated fleet intervals', () => {
  const fleet = demoFleet('demo');
  const ownInterval = (kind: string): number => (getSimulator(kind).configSchema.parse({}) as { intervalS: number }).intervalS;
  const intervalOf = (entries: FleetEntry[], sensor: string): number => {
    const sim = createFleetSimulation({ hub: 'demo', fleet: entries, seed: 1, startMs: Date.UTC(2024, 4, 1) });
    return sim.sensors.find((s) => s.entry.sensor === sensor)?.sensor.intervalS as number;
  };

  it('keeps each simulator’s own interval when the config sets none', () => {
    const sim = parseConfig({}).simulators;
    const out = withConfigIntervals(fleet, sim, 1);
    expect(out).toEqual(fleet);
    expect(intervalOf(out, 'wind-1')).toBe(ownInterval('wind'));
    expect(intervalOf(out, 'soil-meadow')).toBe(ownInterval('soil'));
  });

  it('applies simulators.intervalS (real seconds, times the speed) to every sensor only when set', () => {
    const out = withConfigIntervals(fleet, parseConfig({ simulators: { intervalS: 5 } }).simulators, 60);
    for (const e of out) expect(intervalOf(out, e.sensor), e.sensor).toBe(300);
  });

  it('a kind’s own line wins over the global one; other kinds keep theirs', () => {
    const out = withConfigIntervals(fleet, parseConfig({ simulators: { intervals: { wind: 2 } } }).simulators, 1);
    expect(intervalOf(out, 'wind-1')).toBe(2);
    expect(intervalOf(out, 'pv-1')).toBe(ownInterval('solar'));
    const both = withConfigIntervals(fleet, parseConfig({ simulators: { intervalS: 10, intervals: { wind: 2 } } }).simulators, 1);
    expect([intervalOf(both, 'wind-1'), intervalOf(both, 'pv-1')]).toEqual([2, 10]);
  });

  it('a scenario keeps every simulator’s own interval; an unknown kind is refused', () => {
    const sim = parseConfig({ simulators: { intervalS: 5, intervals: { wind: 2 } } }).simulators;
    expect(withConfigIntervals(fleet, sim, 3600, 'drought')).toEqual(fleet);
    expect(() => withConfigIntervals(fleet, parseConfig({ simulators: { intervals: { teapot: 5 } } }).simulators, 1)).toThrow(/unknown simulator kind "teapot"/);
  });
});
