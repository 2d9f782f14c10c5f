import { describe, expect, it } from 'vitest';
import { alertTopic, dataTopic, devicePrefix, parseTopic, rejectedTopic, statusTopic } from './topics.ts';

describe('topics', () => {
  it('builds and parses the v1 scheme', () => {
    const a = { hub: 'demo', domain: 'water' as const, sensor: 'well-1' };
    expect(dataTopic(a)).toBe('csm/v1/demo/water/well-1/data');
    expect(statusTopic(a)).toBe('csm/v1/demo/water/well-1/status');
    expect(devicePrefix(a)).toBe('csm/v1/demo/water/well-1/');
    expect(rejectedTopic('demo')).toBe('csm/v1/demo/rejected');
    expect(alertTopic('demo', 'aquifer-low', 'well-1')).toBe('csm/v1/demo/alerts/aquifer-low/well-1');
    expect(parseTopic('csm/v1/demo/water/well-1/data')).toEqual({ type: 'data', ...a });
    expect(parseTopic('csm/v1/demo/rejected')).toEqual({ type: 'rejected', hub: 'demo' });
  });

  it.each(['+', '#', 'a/b', 'A', '', 'x'.repeat(65), 'a b', '-lead', 'é'])('refuses the id %j in a topic', (id) => {
    expect(() => dataTopic({ hub: id, domain: 'water', sensor: 's' })).toThrow(/invalid hub id/);
    expect(() => dataTopic({ hub: 'h', domain: 'water', sensor: id })).toThrow(/invalid sensor id/);
  });

  it.each(['csm/v1/demo/air/s/data', 'csm/v1/demo/water/s/data/x', 'csm/v2/demo/water/s/data', 'csm/v1/DEMO/water/s/data', 'csm/v1/demo/water/+/data', 'public/v1/demo/water/s/data'])(
    'does not parse %s as a reading topic',
    (t) => {
      expect(parseTopic(t)?.type === 'data').toBe(false);
    },
  );
});
