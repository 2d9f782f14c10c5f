import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { forwardingView } from './rules.ts';

interface Engine {
  alerts(): string[];
  silence(id: string): string;
}

const engine = (name: string): Engine => ({
  alerts: () => [name],
  silence: (id) => `${name} silenced ${id}`,
});

describe('forwardingView (the rules engine the API is wired to on a cluster)', () => {
  it('forwards each call to the engine of the moment, across a hand-over', () => {
    let current: Engine | undefined = engine('standby');
    const view = forwardingView(() => current, 'the rules engine');
    const alerts = view.alerts;
    expect(alerts()).toEqual(['standby']);
    current = engine('holder');
    expect(alerts()).toEqual(['holder']);
    expect(view.silence('a1')).toBe('holder silenced a1');
  });

  it('can be decorated onto fastify in the instant between two engines, and a call then says why it fails', async () => {
    // This happened on a cluster node: the API started while the lease holder swapped its standby
    // engine for the running one, fastify probed `view.getter`, and the node stopped.
    let current: Engine | undefined = engine('standby');
    const view = forwardingView(() => current, 'the rules engine');
    void view.alerts; // the shape is learnt from the first engine
    current = undefined;
    const app = Fastify();
    expect(() => app.decorate('rules', view)).not.toThrow();
    expect(() => view.alerts()).toThrow(/the rules engine is not loaded on this node/);
    current = engine('holder');
    await app.ready();
    expect((app as unknown as { rules: Engine }).rules.alerts()).toEqual(['holder']);
    await app.close();
  });

  it('reads properties the engine does not have as undefined (no accidental getter, not a thenable)', () => {
    const view = forwardingView<Engine>(() => engine('e'), 'the rules engine') as unknown as Record<string, unknown>;
    expect(view.getter).toBeUndefined();
    expect(view.setter).toBeUndefined();
    expect(view.then).toBeUndefined();
  });
});
