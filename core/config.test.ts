import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'steward-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('configuration', () => {
  it('defaults to the ports of DESIGN.md and the embedded store', () => {
    const c = parseConfig({});
    expect([c.mqtt.port, c.mqtt.wsPort, c.mqtt.tlsPort, c.http.port, c.dataDir]).toEqual([1883, 9001, 8883, 8080, './data']);
    expect(c.storage.influx).toBeUndefined();
  });

  it('names the key at fault, including unknown keys', () => {
    expect(() => loadConfig(file('bad.yaml', 'mqtt:\n  port: "x"\n  colour: blue\n'), {})).toThrow(/bad\.yaml: mqtt\.port: .*\n.*mqtt: Unrecognized key: "colour"/);
    expect(() => loadConfig(file('bad2.yaml', 'storage:\n  influx:\n    url: http://localhost:8086\n    api: v2\n'), {})).toThrow(/storage\.influx\.bucket: the v2 API needs a bucket/);
    expect(() => loadConfig(file('bad3.yaml', 'mqtt: [\n'), {})).toThrow(/not valid YAML/);
  });

  it('lets the environment override ports, data dir and InfluxDB, inferring the API version', () => {
    const env = { STEWARD_HTTP_PORT: '18080', STEWARD_MQTT_PORT: '11883', STEWARD_WS_PORT: '19001', STEWARD_DATA_DIR: '/tmp/x', INFLUX_URL: 'http://127.0.0.1:8086', INFLUX_DATABASE: 'steward' };
    const c = loadConfig(file('ok.yaml', 'http:\n  port: 1\n'), env);
    expect([c.http.port, c.mqtt.port, c.mqtt.wsPort, c.dataDir]).toEqual([18080, 11883, 19001, '/tmp/x']);
    expect(c.storage.influx).toMatchObject({ url: 'http://127.0.0.1:8086', api: 'v1', database: 'steward' });
    const v2 = loadConfig(undefined, { INFLUX_URL: 'http://h:8086', INFLUX_TOKEN: 't', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' });
    expect(v2.storage.influx?.api).toBe('v2');
    expect(() => loadConfig(undefined, { STEWARD_HTTP_PORT: 'eighty' })).toThrow(/STEWARD_HTTP_PORT/);
  });

  it('points ingest, rules and simulators at the MQTT port in use unless told otherwise', () => {
    const c = loadConfig(undefined, { STEWARD_MQTT_PORT: '11884' });
    expect([c.ingest.brokerUrl, c.rules.brokerUrl, c.simulators.brokerUrl]).toEqual(['mqtt://127.0.0.1:11884', 'mqtt://127.0.0.1:11884', 'mqtt://127.0.0.1:11884']);
    expect(parseConfig({ mqtt: { port: 1900 }, ingest: { brokerUrl: 'mqtt://elsewhere:1883' } }).ingest.brokerUrl).toBe('mqtt://elsewhere:1883');
  });

  it('accepts the documented example config as it stands', () => {
    const c = loadConfig(new URL('../docs/config.example.yaml', import.meta.url).pathname, {});
    expect(c.mqtt.port).toBe(1883);
  });

  it('returns a frozen config', () => {
    expect(Object.isFrozen(parseConfig({}))).toBe(true);
  });
});
