/**
 * What a connector format is: how to read one network server's (or fleet's) messages into a
 * format-neutral {@link Uplink}. Everything after that (device lookup, mapping profiles, units,
 * duplicates, the durable intake, acknowledgements) is shared: connectors/host.ts.
 * @module
 */
import type { z } from 'zod';
import type { ConnectorsConfig } from '../core/config.ts';
import { normaliseEui } from '../registry/index.ts';

/** One source of `connectors.sources` in the config. */
export type SourceConfig = ConnectorsConfig['sources'][number];

/** One gateway's reception of an uplink: pipeline health only, never a reading. */
export interface GatewayRx {
  id: string;
  rssi?: number;
  snr?: number;
}

/** One uplink, whatever format it came in. */
export interface Uplink {
  /** How the device is known: DevEUI (16 hex digits) and/or its name on the network server. */
  device: { eui?: string; name?: string };
  /** The network server's device profile or model, for choosing a mapping profile. */
  deviceProfile?: string;
  /** LoRaWAN frame counter (absent for devices without one). */
  fCnt?: number;
  /** Epoch ms the network server received it (absent: the connector's own clock is used). */
  networkTime?: number;
  /** The decoded payload (ChirpStack `object`, The Things Stack `decoded_payload`, a fleet's JSON). */
  fields: Record<string, unknown>;
  gateways: GatewayRx[];
}

/** What a format made of one message. */
export type Decoded =
  | { kind: 'uplink'; uplink: Uplink }
  /** Not an uplink (join, status, ack…): acknowledged and dropped. */
  | { kind: 'ignore'; why: string }
  /** An uplink that cannot be read: dead-lettered with the reason. */
  | { kind: 'invalid'; reason: string };

/** A connector format: one folder under connectors/, one line in connectors/all.ts. */
export interface ConnectorFormat<Options = Record<string, unknown>> {
  /** The `format` of a source in the config. */
  format: string;
  description: string;
  /** MQTT: the filters subscribed to when a source gives none ([]: the source must give them). */
  defaultTopics: string[];
  /** MQTT: the QoS subscribed at when a source gives none. */
  defaultQos: 0 | 1;
  /** The format's `options` (validated at start and by `steward connect check`). */
  options: z.ZodType<Options>;
  /** Reads one MQTT message; absent: the format has no MQTT side. */
  fromMqtt?(topic: string, payload: Buffer, options: Options): Decoded;
  /** Reads one webhook POST body (JSON) with its query string; absent: no webhook side. */
  fromWebhook?(body: unknown, query: Record<string, string | undefined>, options: Options): Decoded;
}

/** Parses an ISO 8601 time (any fractional precision) or epoch (s or ms) into epoch ms. */
export function parseTime(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? Math.round(v * 1000) : Math.round(v);
  if (typeof v !== 'string' || v.length > 64) return undefined;
  // Date.parse wants at most milliseconds: ChirpStack and The Things Stack send nanoseconds.
  const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(t) ? t : undefined;
}

/** A plain object, or undefined. */
export function asObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** A finite number, or undefined. */
export function asNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Reads a message body as JSON; `invalid` names the parse error (`hint`: what to set on the server). */
export function readJson(payload: Buffer, hint = ''): { doc: unknown } | { invalid: Decoded } {
  try {
    return { doc: JSON.parse(payload.toString('utf8')) };
  } catch (err) {
    return { invalid: { kind: 'invalid', reason: `not JSON (${(err as Error).message})${hint}` } };
  }
}

/**
 * The shared shape of a LoRaWAN network server's uplink (ChirpStack, The Things Stack): the device
 * by DevEUI and/or name, the decoded payload, the frame counter (omitted by both servers when 0)
 * and each gateway's reception (`gatewayId` reads a reception's gateway id).
 */
export function lorawanUplink(u: {
  eui: unknown;
  name: unknown;
  /** The error when both ids are missing, naming them as this format does. */
  noIds: string;
  decoded: unknown;
  /** What to do when `decoded` is missing, after "uplink of DEVICE has no …". */
  decodedHint: string;
  fCnt: unknown;
  fCntName: string;
  deviceProfile: unknown;
  networkTime: number | undefined;
  receptions: unknown;
  gatewayId: (rx: Record<string, unknown>) => unknown;
}): Decoded {
  const eui = typeof u.eui === 'string' ? normaliseEui(u.eui) : undefined;
  const name = typeof u.name === 'string' && u.name ? u.name : undefined;
  if (!eui && !name) return { kind: 'invalid', reason: u.noIds };
  const fields = asObject(u.decoded);
  if (!fields) return { kind: 'invalid', reason: `uplink of ${eui ?? name} has no ${u.decodedHint}` };
  const fCnt = u.fCnt === undefined ? 0 : asNumber(u.fCnt);
  if (fCnt === undefined || !Number.isInteger(fCnt) || fCnt < 0) return { kind: 'invalid', reason: `${u.fCntName} ${JSON.stringify(u.fCnt)} is not a frame counter` };
  const gateways: GatewayRx[] = [];
  for (const rx of Array.isArray(u.receptions) ? u.receptions : []) {
    const r = asObject(rx);
    const id = r && u.gatewayId(r);
    if (!r || typeof id !== 'string') continue;
    const g: GatewayRx = { id };
    const rssi = asNumber(r.rssi);
    const snr = asNumber(r.snr);
    if (rssi !== undefined) g.rssi = rssi;
    if (snr !== undefined) g.snr = snr;
    gateways.push(g);
  }
  return {
    kind: 'uplink',
    uplink: {
      device: { ...(eui ? { eui } : {}), ...(name ? { name } : {}) },
      ...(typeof u.deviceProfile === 'string' ? { deviceProfile: u.deviceProfile } : {}),
      fCnt,
      ...(u.networkTime !== undefined ? { networkTime: u.networkTime } : {}),
      fields,
      gateways,
    },
  };
}
