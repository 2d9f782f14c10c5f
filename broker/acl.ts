/**
 * Who may connect as what, publish where and subscribe to what (docs/contract.md "MQTT topics"). Pure functions,
 * no I/O: the broker looks the principal up once at CONNECT and asks these on every packet.
 *
 * | principal          | publish                                             | subscribe                                                         |
 * |--------------------|-----------------------------------------------------|-------------------------------------------------------------------|
 * | device             | `csm/v1/{hub}/{domain}/{sensor}/data` and `/status` | nothing                                                           |
 * | service            | anything under `csm/`, `public/` and `regional/`    | anything                                                          |
 * | technician         | nothing                                             | `csm/v1/{hub}/rejected`, `csm/v1/{hub}/alerts/#`, `public/#`      |
 * | hub                | nothing                                             | `csm/v1/{hub}/alerts/#`, `public/#`                               |
 * | steward            | nothing                                             | `csm/v1/{hub}/alerts/#`, `csm/v1/{hub}/+/+/status`, `public/#`    |
 * | anonymous (opt-in) | nothing                                             | `public/#`                                                        |
 *
 * `{hub}` is the account's hub when it has one, `+` (every hub) otherwise. Nobody publishes to
 * `$`-topics or to topics with wildcards.
 * @module
 */
import type { Principal } from '../registry/index.ts';

/** An authenticated MQTT client: a registered device or account, or an anonymous public reader. */
export type BrokerPrincipal = Principal | { type: 'anonymous' };

/**
 * Longest client id accepted, characters: a device's `{hub}.{sensor}` with two 64-character ids.
 * (Also Aedes's `maxClientsIdLength`, which Aedes applies to MQTT 3.1 clients only.)
 */
export const MAX_CLIENT_ID_LENGTH = 129;

/** What a principal may do, computed once per connection. */
export interface Acl {
  /** Topic patterns (MQTT filters) the principal may publish to. */
  readonly publish: readonly string[];
  /** Patterns every subscription filter must lie within; ignored when `subscribeAll`. */
  readonly subscribe: readonly string[];
  /** Service accounts: any filter, every message forwarded without further checks. */
  readonly subscribeAll: boolean;
}

const NOTHING: Acl = Object.freeze({ publish: [], subscribe: [], subscribeAll: false });

/** Builds the ACL of a principal (the table in this module's description). */
export function aclFor(p: BrokerPrincipal): Acl {
  if (p.type === 'anonymous') return { publish: [], subscribe: ['public/#'], subscribeAll: false };
  if (p.type === 'device') {
    const prefix = `csm/v1/${p.hub}/${p.domain}/${p.sensor}/`;
    return { publish: [`${prefix}data`, `${prefix}status`], subscribe: [], subscribeAll: false };
  }
  const hub = p.hub ?? '+';
  switch (p.role) {
    case 'service':
      // regional/: critical alerts escalated to the regional network (rules).
      return { publish: ['csm/#', 'public/#', 'regional/#'], subscribe: ['#'], subscribeAll: true };
    case 'technician':
      return { publish: [], subscribe: [`csm/v1/${hub}/rejected`, `csm/v1/${hub}/alerts/#`, 'public/#'], subscribeAll: false };
    case 'hub':
      return { publish: [], subscribe: [`csm/v1/${hub}/alerts/#`, 'public/#'], subscribeAll: false };
    case 'steward':
      return { publish: [], subscribe: [`csm/v1/${hub}/alerts/#`, `csm/v1/${hub}/+/+/status`, 'public/#'], subscribeAll: false };
    default:
      return NOTHING;
  }
}

/**
 * True when `filter` is a syntactically valid MQTT 3.1.1 topic filter: not empty, `#` only as
 * the whole last level [MQTT-4.7.1-2], `+` only as a whole level [MQTT-4.7.1-3], no U+0000
 * [MQTT-4.7.3-2].
 */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false;
    if (l.includes('+') && l !== '+') return false;
  }
  return true;
}

/** True when `topic` is a valid topic name to publish to: not empty, no wildcard, no U+0000. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/**
 * True when every topic matched by `filter` is also matched by `pattern` (both MQTT filters;
 * a topic name is a filter matching only itself, so this doubles as a topic matcher).
 *
 * Follows [MQTT-4.7.2-1]: a wildcard in the first level never matches a `$`-topic, so `#` does
 * not contain `$SYS/#`, while `#` does contain `+/x` (neither matches `$`-topics). `a/#` contains
 * `a` itself (the parent level [MQTT-4.7.1-2]). Invalid filters are contained in nothing.
 */
export function filterWithin(filter: string, pattern: string): boolean {
  if (!isValidFilter(filter) || !isValidFilter(pattern)) return false;
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < f.length; i++) {
    const fl = f[i]!;
    const pl = p[i];
    if (pl === undefined) return false; // filter is deeper than the pattern
    if (i === 0 && fl.startsWith('$') && (pl === '+' || pl === '#')) return false; // [MQTT-4.7.2-1]
    if (pl === '#') return true;
    if (fl === '#') return false; // pattern level is narrower than "everything below"
    if (pl === '+') continue; // matches any single level, including `+` and the empty level
    if (fl === '+' || fl !== pl) return false;
  }
  // The filter ran out: the pattern must end here too, or with a `#` that matches the parent.
  return p.length === f.length || (p.length === f.length + 1 && p[f.length] === '#');
}

/** True when `principal` (through its `acl`) may publish to `topic`. */
export function canPublish(acl: Acl, topic: string): boolean {
  if (!isValidTopicName(topic) || topic.startsWith('$')) return false;
  return acl.publish.some((pattern) => filterWithin(topic, pattern));
}

/** True when the subscription `filter` lies within what `acl` allows (SUBACK 0x80 otherwise). */
export function canSubscribe(acl: Acl, filter: string): boolean {
  if (!isValidFilter(filter)) return false;
  if (acl.subscribeAll) return true;
  return acl.subscribe.some((pattern) => filterWithin(filter, pattern));
}

/** True when a message on `topic` may be forwarded to a client with this `acl` (defence in depth). */
export function canReceive(acl: Acl, topic: string): boolean {
  if (acl.subscribeAll) return true;
  return acl.subscribe.some((pattern) => filterWithin(topic, pattern));
}

/**
 * Why a client id or username cannot be used, or undefined when it can. Ids substituted into
 * topics or used as session keys must not contain `+`, `#` or `/` (Mosquitto CVE-2017-7650),
 * nor control characters, and must fit {@link MAX_CLIENT_ID_LENGTH}.
 */
export function identifierProblem(id: string): string | undefined {
  if (id.length > MAX_CLIENT_ID_LENGTH) return `longer than ${MAX_CLIENT_ID_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[+#/\u0000-\u001f\u007f]/.test(id)) return 'contains +, #, / or a control character';
  return undefined;
}

/**
 * The owner of a session: only the same principal may take over a client id (a device is bound
 * to its username; an account or anonymous reader to its own sessions).
 */
export function sessionOwner(p: BrokerPrincipal): string {
  if (p.type === 'anonymous') return 'anonymous';
  return p.type === 'device' ? `device:${p.username}` : `account:${p.name}`;
}

/**
 * Why `clientId` may not be used by `p`, or undefined when it may. Devices must use their
 * username `{hub}.{sensor}` (so one device cannot kick another off); every other principal must
 * not use a client id containing `.`, which is reserved for devices.
 */
export function clientIdProblem(p: BrokerPrincipal, clientId: string): string | undefined {
  if (p.type === 'device') return clientId === p.username ? undefined : `a device must use its username ${p.username} as client id`;
  return clientId.includes('.') ? 'client ids containing "." are reserved for devices' : undefined;
}
