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
import { asObject, lorawanUplink, parseTime, readJson, type ConnectorFormat, type Decoded } from '../types.ts';

export function fromTtsMessage(doc: unknown): Decoded {
  const m = asObject(doc);
  if (!m) return { kind: 'invalid', reason: 'the message is not a JSON object' };
  const up = asObject(m.uplink_message);
  if (!up) return { kind: 'ignore', why: 'not an uplink message' };
  const ids = asObject(m.end_device_ids);
  if (!ids) return { kind: 'invalid', reason: 'end_device_ids is missing' };
  return lorawanUplink({
    eui: ids.dev_eui,
    name: ids.device_id,
    noIds: 'end_device_ids has neither dev_eui nor device_id',
    decoded: up.decoded_payload,
    decodedHint: 'decoded_payload: set a payload formatter for the device or application',
    fCnt: up.f_cnt,
    fCntName: 'f_cnt',
    deviceProfile: asObject(up.version_ids)?.model_id,
    networkTime: parseTime(up.received_at) ?? parseTime(m.received_at),
    receptions: up.rx_metadata,
    gatewayId: (rx) => asObject(rx.gateway_ids)?.gateway_id,
  });
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
    const r = readJson(payload);
    return 'doc' in r ? fromTtsMessage(r.doc) : r.invalid;
  },
  fromWebhook: (body) => fromTtsMessage(body),
};
export default theThingsStackV3;
