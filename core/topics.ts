/**
 * The v1 topic scheme (docs/contract.md "MQTT topics"). Topics are only ever built from validated ids,
 * and parsed strictly, so neither wildcards nor extra levels can be smuggled in.
 */
import { type Domain, isDomain, isId } from './ids.ts';

export const TOPIC_ROOT = 'csm/v1';
export const PUBLIC_ROOT = 'public/v1';

export interface SensorAddress {
  hub: string;
  domain: Domain;
  sensor: string;
}

function assertIds(parts: Record<string, string>): void {
  for (const [k, v] of Object.entries(parts)) {
    if (!isId(v)) throw new TypeError(`invalid ${k} id ${JSON.stringify(v)}: must match ^[a-z0-9][a-z0-9_-]{0,63}$`);
  }
}

/** `csm/v1/{hub}/{domain}/{sensor}/data`. Throws TypeError on an invalid id or domain. */
export function dataTopic(a: SensorAddress): string {
  assertIds({ hub: a.hub, sensor: a.sensor });
  if (!isDomain(a.domain)) throw new TypeError(`invalid domain ${JSON.stringify(a.domain)}`);
  return `${TOPIC_ROOT}/${a.hub}/${a.domain}/${a.sensor}/data`;
}

/** `csm/v1/{hub}/{domain}/{sensor}/status` (birth and last will, retained). */
export function statusTopic(a: SensorAddress): string {
  return dataTopic(a).replace(/\/data$/, '/status');
}

/** The prefix a device may publish under: `csm/v1/{hub}/{domain}/{sensor}/`. */
export function devicePrefix(a: SensorAddress): string {
  return dataTopic(a).replace(/data$/, '');
}

/** `csm/v1/{hub}/rejected`: dead letters with reasons (technicians only). */
export function rejectedTopic(hub: string): string {
  assertIds({ hub });
  return `${TOPIC_ROOT}/${hub}/rejected`;
}

/** `csm/v1/{hub}/alerts/{rule}/{subject}`. */
export function alertTopic(hub: string, rule: string, subject: string): string {
  assertIds({ hub, rule, subject });
  return `${TOPIC_ROOT}/${hub}/alerts/${rule}/${subject}`;
}

/** Subscription filter for every device reading of every hub (service accounts only). */
export const ALL_DATA_FILTER = `${TOPIC_ROOT}/+/+/+/data`;
/** Subscription filter for every device status. */
export const ALL_STATUS_FILTER = `${TOPIC_ROOT}/+/+/+/status`;

export type ParsedTopic =
  | ({ type: 'data' | 'status' } & SensorAddress)
  | { type: 'rejected'; hub: string }
  | { type: 'alert'; hub: string; rule: string; subject: string };

/** Parses a `csm/v1/...` topic; returns undefined for anything outside the scheme. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const p = topic.split('/');
  if (p[0] !== 'csm' || p[1] !== 'v1') return undefined;
  const hub = p[2];
  if (!isId(hub)) return undefined;
  if (p.length === 6 && (p[5] === 'data' || p[5] === 'status')) {
    const [, , , domain, sensor, type] = p;
    if (!isDomain(domain) || !isId(sensor)) return undefined;
    return { type: type as 'data' | 'status', hub, domain, sensor };
  }
  if (p.length === 4 && p[3] === 'rejected') return { type: 'rejected', hub };
  if (p.length === 6 && p[3] === 'alerts' && isId(p[4]) && isId(p[5])) {
    return { type: 'alert', hub, rule: p[4], subject: p[5] };
  }
  return undefined;
}

/** Distinct topics {@link parseTopicCached} remembers before it starts again. */
const TOPIC_CACHE_SIZE = 10_000;
const topicCache = new Map<string, Readonly<ParsedTopic> | undefined>();

/**
 * {@link parseTopic}, remembered: a device publishes on one topic, so the intake parses each
 * device's topic once instead of per message. The answer is frozen (callers share it). Once
 * {@link TOPIC_CACHE_SIZE} topics are held the cache is emptied, so topics made up by a client
 * cannot grow it without bound.
 */
export function parseTopicCached(topic: string): Readonly<ParsedTopic> | undefined {
  let t = topicCache.get(topic);
  if (t === undefined && !topicCache.has(topic)) {
    if (topicCache.size >= TOPIC_CACHE_SIZE) topicCache.clear();
    const parsed = parseTopic(topic);
    t = parsed && Object.freeze(parsed);
    topicCache.set(topic, t);
  }
  return t;
}
