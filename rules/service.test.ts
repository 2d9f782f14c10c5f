import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertBook } from './book.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { Notification, Notifier } from './notifiers/types.ts';
import { Router } from './router.ts';
import { subjectFor } from './ruleset.ts';
import { AlertsService } from './service.ts';
import { Silencer } from './silencer.ts';
import { AlertStateStore } from './state.ts';
import { batteryRule, compileRules, MIN, ruleFile, ruleSetOf, stageContext, T0 } from './testing.ts';

describe('alerts service', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('lists firing before pending, critical first; serves history; an ack updates targets that heard it fire', () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-service-'));
    dirs.push(dir);
    const ctx = stageContext();
    ctx.state = AlertStateStore.open(dir);
    const yaml = `${batteryRule()}${ruleFile('pump-low', 'threshold', { select: '{ metric: battery_soc }', below: 30, for: '1h', severity: 'critical' }).replace('\nrules:\n', '')}`;
    const set = ruleSetOf(yaml);
    const rules = compileRules(yaml);
    const sent: string[] = [];
    const dispatcher = { busy: () => false, send: (n: Notifier, x: Notification) => void sent.push(`${n.name}:${x.event}`) } as unknown as Dispatcher;
    const silencer = new Silencer(ctx);
    const router = new Router({ ctx, rules: () => rules, silencer, dispatcher, publish: async () => {} });
    router.configure(set);
    const book = new AlertBook({ ctx, rules: () => rules, changed: (a, now) => router.route(a, now, true) });
    const service = new AlertsService({ ctx, book, silencer, router });
    const member = { hub: 'demo', sensor: 'b1', site: 'b1', domain: 'energy' as const };
    for (const id of ['battery-low', 'pump-low']) {
      const c = rules.get(id)!;
      book.observe(c, subjectFor(c, member), { active: true, ts: T0, value: 10, facts: {}, summary: 'Battery at 10 %' }, T0);
    }
    expect(service.alerts().map((a) => `${a.rule}:${a.state}`)).toEqual(['battery-low:firing', 'pump-low:pending']);
    expect(service.alerts({ state: 'pending' }).map((a) => a.rule)).toEqual(['pump-low']);
    expect(service.alerts({ hub: ['other'] })).toEqual([]);
    expect(sent.splice(0)).toEqual(['mqtt:firing']);
    book.delivered('demo.battery-low.b1', 'mqtt', { event: 'firing', alert: { episode: 1 } } as never, false);
    ctx.clock.set(T0 + MIN);
    expect(service.ack('demo.battery-low.b1', 'ana').acknowledged).toMatchObject({ by: 'ana' });
    expect(sent).toEqual(['mqtt:update']);
    expect(service.get('demo.battery-low.b1')?.history.map((h) => h.event)).toEqual(['ack', 'transition']);
    expect(service.get('nope')).toBeUndefined();
    ctx.state.close();
  });
});
