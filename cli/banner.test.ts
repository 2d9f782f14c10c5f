import { describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import { startBanner } from './roles.ts';

describe('the start banner', () => {
  it('says where the listeners are bound, and that 0.0.0.0 is every interface', () => {
    const b = startBanner(parseConfig({}), 'http://localhost:8080', { mqtt: 1883, ws: 9001 }, true);
    expect(b).toContain('  MQTT              mqtt://localhost:1883');
    expect(b).toContain('  Listening on      MQTT 0.0.0.0:1883, WebSocket 0.0.0.0:9001, HTTP 0.0.0.0:8080 (0.0.0.0: every interface');
  });

  it('shows the configured address when it is not 0.0.0.0', () => {
    const b = startBanner(parseConfig({ mqtt: { host: '127.0.0.1' }, http: { host: '127.0.0.1' } }), 'http://127.0.0.1:8080', { mqtt: 1883, ws: 9001 }, false);
    expect(b).toContain('  MQTT              mqtt://127.0.0.1:1883');
    expect(b).toMatch(/Listening on +MQTT 127\.0\.0\.1:1883, WebSocket 127\.0\.0\.1:9001, HTTP 127\.0\.0\.1:8080\n/);
  });
});
