/**
 * The Things Stack v3 (The Things Network): its MQTT server (`v3/{application id}@{tenant id}/devices/{device id}/up`;
 * MQTT 3.1.1, QoS 0 only) and webhooks (the uplink message as the POST body).
 *
 * Read: `end_device_ids.{dev_eui, device_id}`, `received_at` (network server time),
 * `uplink_message.{f_cnt (omitted when 0), decoded_payload, version_ids.model_id, rx_metadata[]}`.
 * Messages without `uplink_message` (join accepts, downlink events…) are acknowledged and dropped.
 * @module
 */
import { z } from 'zod';
import { normaliseEui } from '../../registry/registry.ts';
import { asNumber, asObject, parseTime, type ConnectorFormat, type Decoded, type GatewayRx } from '../types.ts';

export function fromTtsMessage(doc: unknown): Decoded {
  const m = asObject(doc);
  if (!m) return { kind: 'invalid', reason: 'the message is not a JSON object' };
  const up = asObject(m.uplink_message);
  if (!up) return { kind: 'ignore', why: 'not an uplink message' };
  const ids = asObject(m.end_device_ids);
  if (!ids) return { kind: 'invalid', reason: 'end_device_ids is missing' };
  const eui = typeof ids.dev_eui === 'string' ? normaliseEui(ids.dev_eui) : undefined;
  const name = typeof ids.device_id === 'string' && ids.device_id ? ids.device_id : undefined;
  if (!eui && !name) return { kind: 'invalid', reason: 'end_device_ids has neither dev_eui nor device_id' };
  const decoded = asObject(up.decoded_payload);
  if (!decoded) return { kind: 'invalid', reason: `uplink of ${eui ?? name} has no decoded_payload: set a payload formatter for the device or application` };
  const fCnt = up.f_cnt === undefined ? 0 : asNumber(up.f_cnt);
  if (fCnt === undefined || !Number.isInteger(fCnt) || fCnt < 0) return { kind: 'invalid', reason: `f_cnt ${JSON.stringify(up.f_cnt)} is not a frame counter` };
  const gateways: GatewayRx[] = [];
  for (const rx of Array.isArray(up.rx_metadata) ? up.rx_metadata : []) {
    const r = asObject(rx);
    const gid = asObject(r?.gateway_ids)?.gateway_id;
    if (!r || typeof gid !== 'string') continue;
    const g: GatewayRx = { id: gid };
    const rssi = asNumber(r.rssi);
    const snr = asNumber(r.snr);
    if (rssi !== undefined) g.rssi = rssi;
    if (snr !== undefined) g.snr = snr;
    gateways.push(g);
  }
  const model = asObject(up.version_ids)?.model_id;
  const networkTime = parseTime(up.received_at) ?? parseTime(m.received_at);
  return {
    kind: 'uplink',
    uplink: {
      device: { ...(eui ? { eui } : {}), ...(name ? { name } : {}) },
      ...(typeof model === 'string' ? { deviceProfile: model } : {}),
      fCnt,
      ...(networkTime !== undefined ? { networkTime } : {}),
      fields: decoded,
      gateways,
    },
  };
}

const theThingsStackV3: ConnectorFormat = {
  format: 'the-things-stack-v3',
  description: 'The Things Stack v3 / The Things Network: MQTT server (v3/+/devices/+/up, QoS 0 only) and webhooks',
  defaultTopics: ['v3/+/devices/+/up'],
  // The Things Stack's MQTT server offers QoS 0 only: nothing is resent after a connector crash.
  defaultQos: 0,
  options: z.strictObject({}),
  fromMqtt(topic, payload) {
    if (!/^v3\/[^/]+\/devices\/[^/]+\/up$/.test(topic)) return { kind: 'ignore', why: `topic ${topic} is not an uplink` };
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { kind: 'invalid', reason: `not JSON (${(err as Error).message})` };
    }
    return fromTtsMessage(doc);
  },
  fromWebhook: (body) => fromTtsMessage(body),
};
export default theThingsStackV3;
