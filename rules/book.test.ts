import { describe, expect, it } from 'vitest';
import type { AlertEvent } from './alert.ts';
import { AlertBook } from './book.ts';
import type { Observation } from './kinds/types.ts';
import type { AlertRecord } from './lifecycle.ts';
import { type CompiledRules, subjectFor } from './ruleset.ts';
import { batteryRule, compileRules, MIN, stageContext, T0 } from './testing.ts';

const low = (ts: number, value: number): Observation => ({ active: value < 20, ts, value, facts: { value }, summary: `Battery at ${value} %` });

function setup() {
  const ctx = stageContext();
  let rules: CompiledRules = compileRules(batteryRule());
  const changed: AlertRecord[] = [];
  const events: AlertEvent[] = [];
  const book = new AlertBook({ ctx, rules: () => rules, sink: { write: async (es) => void events.push(...es) }, changed: (a) => void changed.push(a) });
  const c = rules.get('battery-low')!;
  const s = subjectFor(c, { hub: 'demo', sensor: 'b1', site: 'b1', domain: 'energy' });
  return { ctx, book, c, s, changed, events, drop: () => void (rules = compileRules(batteryRule({ enabled: 'false' }))) };
}

describe('alert book', () => {
  it('moves an alert through its lifecycle, telling the router and the sink of each transition only', async () => {
    const { book, c, s, changed, events } = setup();
    book.observe(c, s, low(T0, 10), T0);
    expect(book.active(c, s)).toBe(true);
    book.observe(c, s, low(T0 + MIN, 12), T0 + MIN);
    expect(book.get('demo.battery-low.b1')?.value).toBe(12);
    book.observe(c, s, low(T0 + 2 * MIN, 30), T0 + 2 * MIN);
    await book.settled();
    expect(changed.map((a) => a.state)).toEqual(['firing', 'resolved']);
    expect(events.map((e) => `${e.from}->${e.to}`)).toEqual(['inactive->firing', 'firing->resolved']);
  });

  it('ends the active alerts of a removed or disabled rule', () => {
    const { book, c, s, changed, drop } = setup();
    book.observe(c, s, low(T0, 10), T0);
    drop();
    book.endRemoved(T0 + MIN);
    expect(changed.map((a) => a.state)).toEqual(['firing', 'resolved']);
    expect(book.get('demo.battery-low.b1')?.summary).toMatch(/^Rule "battery-low" was removed or disabled; battery at 10 %/);
  });

  it('acknowledges only pending or firing alerts; remembers what each target was told', () => {
    const { book, c, s } = setup();
    expect(() => book.acknowledge('nope', 'ana', undefined, T0)).toThrow(/no alert/);
    book.observe(c, s, low(T0, 10), T0);
    const { prev, next } = book.acknowledge('demo.battery-low.b1', 'ana', 'on it', T0 + MIN);
    expect(prev.ack).toBeNull();
    expect(next.ack).toEqual({ by: 'ana', at: T0 + MIN, comment: 'on it' });
    book.delivered(next.id, 'mqtt', { event: 'firing', alert: { episode: 1 } } as never, false);
    expect(book.get(next.id)?.delivery.mqtt).toMatchObject({ state: 'firing', episode: 1 });
    book.observe(c, s, low(T0 + MIN, 30), T0 + 2 * MIN);
    expect(() => book.acknowledge(next.id, 'ana', undefined, T0 + 3 * MIN)).toThrow(/only pending or firing/);
  });
});
