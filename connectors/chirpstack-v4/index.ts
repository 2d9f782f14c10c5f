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
import { asObject, lorawanUplink, parseTime, readJson, type ConnectorFormat, type Decoded } from '../types.ts';

const TOPIC = /^application\/[^/]+\/device\/[^/]+\/event\/([^/]+)$/;

export function fromChirpstackEvent(doc: unknown): Decoded {
  const e = asObject(doc);
  if (!e) return { kind: 'invalid', reason: 'the event is not a JSON object' };
  const info = asObject(e.deviceInfo);
  if (!info) return { kind: 'invalid', reason: 'deviceInfo is missing: is the integration set to the JSON marshaler of ChirpStack v4?' };
  return lorawanUplink({
    eui: info.devEui,
    name: info.deviceName,
    noIds: 'deviceInfo has neither devEui nor deviceName',
    decoded: e.object,
    decodedHint: 'decoded "object": give its device profile a codec',
    fCnt: e.fCnt,
    fCntName: 'fCnt',
    deviceProfile: info.deviceProfileName,
    networkTime: parseTime(e.time),
    receptions: e.rxInfo,
    gatewayId: (rx) => rx.gatewayId,
  });
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
    const r = readJson(payload, ": set the integration's marshaler to JSON");
    return 'doc' in r ? fromChirpstackEvent(r.doc) : r.invalid;
  },
  fromWebhook(body, query) {
    const event = query.event ?? 'up';
    if (event !== 'up') return { kind: 'ignore', why: `event ${event}` };
    return fromChirpstackEvent(body);
  },
};
export default chirpstackV4;
