/**
 * ChirpStack v4: the MQTT integration (`application/{application_id}/device/{dev_eui}/event/up`,
 * JSON marshaler) and the HTTP integration (POST `?event=up`, same JSON). Other events (join,
 * status, ack, txack, log, location) are acknowledged and dropped.
 *
 * Read from the event: `deviceInfo.devEui`, `deviceInfo.deviceName`, `deviceInfo.deviceProfileName`,
 * `time` (network server time), `fCnt` (omitted when 0), `object` (the device profile codec's
 * output) and `rxInfo[].{gatewayId, rssi, snr}` (pipeline health only).
 * @module
 */
import { z } from 'zod';
import { normaliseEui } from '../../registry/registry.ts';
import { asNumber, asObject, parseTime, type ConnectorFormat, type Decoded, type GatewayRx } from '../types.ts';

const TOPIC = /^application\/[^/]+\/device\/[^/]+\/event\/([^/]+)$/;

export function fromChirpstackEvent(doc: unknown): Decoded {
  const e = asObject(doc);
  if (!e) return { kind: 'invalid', reason: 'the event is not a JSON object' };
  const info = asObject(e.deviceInfo);
  if (!info) return { kind: 'invalid', reason: 'deviceInfo is missing: is the integration set to the JSON marshaler of ChirpStack v4?' };
  const eui = typeof info.devEui === 'string' ? normaliseEui(info.devEui) : undefined;
  const name = typeof info.deviceName === 'string' && info.deviceName ? info.deviceName : undefined;
  if (!eui && !name) return { kind: 'invalid', reason: 'deviceInfo has neither devEui nor deviceName' };
  const object = asObject(e.object);
  if (!object) return { kind: 'invalid', reason: `uplink of ${eui ?? name} has no decoded "object": give its device profile a codec` };
  const fCnt = e.fCnt === undefined ? 0 : asNumber(e.fCnt);
  if (fCnt === undefined || !Number.isInteger(fCnt) || fCnt < 0) return { kind: 'invalid', reason: `fCnt ${JSON.stringify(e.fCnt)} is not a frame counter` };
  const gateways: GatewayRx[] = [];
  for (const rx of Array.isArray(e.rxInfo) ? e.rxInfo : []) {
    const r = asObject(rx);
    if (!r || typeof r.gatewayId !== 'string') continue;
    const g: GatewayRx = { id: r.gatewayId };
    const rssi = asNumber(r.rssi);
    const snr = asNumber(r.snr);
    if (rssi !== undefined) g.rssi = rssi;
    if (snr !== undefined) g.snr = snr;
    gateways.push(g);
  }
  const networkTime = parseTime(e.time);
  return {
    kind: 'uplink',
    uplink: {
      device: { ...(eui ? { eui } : {}), ...(name ? { name } : {}) },
      ...(typeof info.deviceProfileName === 'string' ? { deviceProfile: info.deviceProfileName } : {}),
      fCnt,
      ...(networkTime !== undefined ? { networkTime } : {}),
      fields: object,
      gateways,
    },
  };
}

const chirpstackV4: ConnectorFormat = {
  format: 'chirpstack-v4',
  description: 'ChirpStack v4 MQTT integration (application/+/device/+/event/up) and HTTP integration (POST ?event=up), JSON',
  defaultTopics: ['application/+/device/+/event/up'],
  defaultQos: 1,
  options: z.strictObject({}),
  fromMqtt(topic, payload) {
    const m = TOPIC.exec(topic);
    if (!m) return { kind: 'ignore', why: `topic ${topic} is not an application event` };
    if (m[1] !== 'up') return { kind: 'ignore', why: `event ${m[1]}` };
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { kind: 'invalid', reason: `not JSON (${(err as Error).message}): set the integration's marshaler to JSON` };
    }
    return fromChirpstackEvent(doc);
  },
  fromWebhook(body, query) {
    const event = query.event ?? 'up';
    if (event !== 'up') return { kind: 'ignore', why: `event ${event}` };
    return fromChirpstackEvent(body);
  },
};
export default chirpstackV4;
