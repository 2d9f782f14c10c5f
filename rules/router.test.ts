import { describe, expect, it } from 'vitest';
import type { Dispatcher } from './dispatcher.ts';
import type { Notification, Notifier } from './notifiers/types.ts';
import { Router } from './router.ts';
import { CompiledRules } from './ruleset.ts';
import { Silencer } from './silencer.ts';
import { alertRecord, HOUR, ruleSetOf, stageContext, T0 } from './testing.ts';

const RULES = `
webhooks:
  - { name: ops, url: 'https://ops.example.org/hook' }
rules:
  - { id: battery-low, kind: threshold, select: { metric: battery_soc }, below: 20, renotify: 1h, webhooks: [ops] }
  - { id: aquifer, kind: depletion, severity: critical, select: { metric: groundwater_level }, window: 3d, floor: 40, horizon: 30d }
`;

function setup() {
  const ctx = stageContext();
  const set = ruleSetOf(RULES);
  const rules = new CompiledRules(set);
  const sent: Array<{ target: string; event: Notification['event'] }> = [];
  const dispatcher = { busy: () => false, send: (n: Notifier, x: Notification) => void sent.push({ target: n.name, event: x.event }) } as unknown as Dispatcher;
  const silencer = new Silencer(ctx);
  const router = new Router({ ctx, rules: () => rules, silencer, dispatcher, publish: async () => {} });
  router.configure(set);
  return { router, sent, silencer };
}

describe('router', () => {
  it('targets: MQTT for every rule, the regional topic for critical depletion, the rule’s webhooks; whoever heard it fire', () => {
    const { router } = setup();
    expect(router.targets(alertRecord('battery-low')).map((n) => n.name)).toEqual(['mqtt', 'webhook:ops']);
    expect(router.targets(alertRecord('aquifer')).map((n) => n.name)).toEqual(['mqtt', 'regional']);
    expect(router.targets(alertRecord('gone', { delivery: { mqtt: { state: 'firing', episode: 1, at: T0 } } })).map((n) => n.name)).toEqual(['mqtt']);
  });

  it('firing goes out once per episode; housekeeping re-notifies when due; a silence holds it back; resolved reaches those told', () => {
    const { router, sent, silencer } = setup();
    router.route(alertRecord('battery-low'), T0, true);
    expect(sent.splice(0)).toEqual([{ target: 'mqtt', event: 'firing' }, { target: 'webhook:ops', event: 'firing' }]);
    const told = alertRecord('battery-low', { delivery: { mqtt: { state: 'firing', episode: 1, at: T0 } } });
    router.route(told, T0 + HOUR - 1, false);
    expect(sent.splice(0)).toEqual([{ target: 'webhook:ops', event: 'firing' }]);
    router.route(told, T0 + HOUR, false);
    expect(sent.splice(0)).toEqual([{ target: 'mqtt', event: 'renotify' }, { target: 'webhook:ops', event: 'firing' }]);
    silencer.add({ matchers: { rule: 'battery-low' }, createdBy: 'ana', comment: 'known', durationMs: 2 * HOUR }, [], T0);
    router.route(alertRecord('battery-low', { episode: 2 }), T0 + HOUR, true);
    expect(sent.splice(0)).toEqual([]);
    router.route({ ...told, state: 'resolved' }, T0 + HOUR, true);
    expect(sent.splice(0)).toEqual([{ target: 'mqtt', event: 'resolved' }]);
  });
});
