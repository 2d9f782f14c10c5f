/**
 * Test devices: real mqtt.js clients with registered credentials, publishing numbered readings so
 * tests count losses and duplicates by per-sensor sequence numbers, not by eye.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { dataTopic } from '../../core/topics.ts';
import type { Domain } from '../../core/ids.ts';
import type { Registry } from '../../registry/registry.ts';

export interface TestDevice {
  hub: string;
  domain: Domain;
  sensor: string;
  client: MqttClient;
  topic: string;
  /** Next sequence number to publish. */
  seq: number;
  /** Publishes one raw payload at QoS 1 and waits for the PUBACK. */
  publishRaw(payload: string | Buffer, topic?: string): Promise<void>;
  end(): Promise<void>;
}

/** Registers the device (password `pw-{sensor}-secret`) and connects it. */
export async function connectDevice(registry: Registry, url: string, hub: string, domain: Domain, sensor: string): Promise<TestDevice> {
  const password = `pw-${sensor}-secret`;
  await registry.addSensor({ hub, domain, sensor, password });
  const username = `${hub}.${sensor}`;
  const client = await mqtt.connectAsync(url, { clientId: username, username, password, protocolVersion: 4, reconnectPeriod: 500, clean: true });
  const topic = dataTopic({ hub, domain, sensor });
  return {
    hub,
    domain,
    sensor,
    client,
    topic,
    seq: 0,
    async publishRaw(payload, t = topic) {
      await client.publishAsync(t, payload, { qos: 1 });
    },
    async end() {
      await client.endAsync();
    },
  };
}

/** Connects a service-style client (any account) for subscribing. */
export async function connectAccount(url: string, username: string, password: string, clientId = `${username}-${Math.random().toString(36).slice(2, 8)}`): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, username, password, protocolVersion: 4, reconnectPeriod: 0 });
}

/** A valid payload for each domain, at sensor time `ts`. */
export function validPayload(domain: Domain, seq: number, ts: number): Record<string, unknown> {
  switch (domain) {
    case 'water':
      return { ts, seq, metrics: { groundwater_level: 40 + (seq % 10) / 10, withdrawal: 1.5 } };
    case 'soil':
      return { ts, seq, metrics: { soil_moisture: 0.31, soil_temperature: 11.5 } };
    case 'energy':
      return { ts, seq, metrics: { pv_power: 1000 + seq, battery_soc: 64 } };
    case 'biodiversity':
      return { ts, seq, species: 'Erithacus rubecula', metrics: { count: 1, confidence: 0.9 } };
  }
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000, every = 100): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
