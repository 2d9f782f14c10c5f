/**
 * A generic MQTT JSON fleet (weather stations, energy meters, Tasmota- or Shelly-style devices):
 * each message on the source's topics is one JSON object; the device is named by a topic level or
 * a field, the mapping profile takes fields by path. Written like the LoRaWAN formats, as one folder
 * and one line in connectors/all.ts, to show how a format is added.
 *
 * Options: `device: { topicLevel: N }` (0-based level of the topic, e.g. 1 for `tele/{device}/SENSOR`)
 * or `device: { field: "path" }`; `eui: true` when that name is a DevEUI; `timeField` for a
 * network-side time in the message (else the connector's clock: prefer a profile with
 * `timestamp: device` so that a redelivered message keeps its timestamp).
 * @module
 */
import { z } from 'zod';
import { normaliseEui } from '../../registry/index.ts';
import { at } from '../mapping.ts';
import { asObject, parseTime, readJson, type ConnectorFormat } from '../types.ts';

const options = z.strictObject({
  device: z.union([z.strictObject({ topicLevel: z.number().int().nonnegative() }), z.strictObject({ field: z.string().min(1) })]),
  eui: z.boolean().default(false),
  timeField: z.string().min(1).optional(),
});
type Options = z.output<typeof options>;

const mqttJson: ConnectorFormat<Options> = {
  format: 'mqtt-json',
  description: 'any MQTT fleet publishing one JSON object per message (device by topic level or field, fields by path)',
  defaultTopics: [],
  defaultQos: 1,
  options: options as z.ZodType<Options>,
  fromMqtt(topic, payload, o) {
    const r = readJson(payload);
    if (!('doc' in r)) return r.invalid;
    const fields = asObject(r.doc);
    if (!fields) return { kind: 'invalid', reason: 'the message is not a JSON object' };
    const raw = 'topicLevel' in o.device ? topic.split('/')[o.device.topicLevel] : at(fields, o.device.field);
    if (typeof raw !== 'string' && typeof raw !== 'number') return { kind: 'invalid', reason: `no device name at ${'topicLevel' in o.device ? `topic level ${o.device.topicLevel}` : `field ${o.device.field}`}` };
    const id = String(raw);
    const device = o.eui ? { ...(normaliseEui(id) ? { eui: normaliseEui(id)! } : {}), name: id } : { name: id };
    const networkTime = o.timeField ? parseTime(at(fields, o.timeField)) : undefined;
    return { kind: 'uplink', uplink: { device, fields, gateways: [], ...(networkTime !== undefined ? { networkTime } : {}) } };
  },
};
export default mqttJson;
