/**
 * Coded broker errors (thrown by `createBroker`, `start`, `publish`), and the reasons counted in
 * `steward_broker_refused_total{reason}` for everything the broker refuses at run time.
 * broker/README.md lists the same codes and reasons; errors.test.ts keeps them in step.
 */
import { createError } from '../core/errors.ts';

/** Stable error codes of the broker's API. */
export const BROKER_ERRORS = {
  BROKER_ERR_OPTIONS: 'createBroker was given invalid options',
  BROKER_ERR_STATE: 'start() called twice, or the broker used before start() or after stop()',
  BROKER_ERR_TLS: 'the TLS certificate or key cannot be read',
  BROKER_ERR_LISTEN: 'a listener could not bind its port (in use, no permission)',
  BROKER_ERR_TOPIC: 'an in-process publish or subscribe used an invalid topic or filter',
  BROKER_ERR_PUBLISH: 'Aedes could not publish an in-process message',
} as const;

export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

/** Why the broker refused a connection, packet or subscription (metric label `reason`). */
export const REFUSAL_REASONS = {
  max_connections: 'a socket arrived while maxConnections sockets were open',
  first_not_connect: 'the first packet of a connection was not CONNECT',
  packet_too_large: 'a packet announced more than maxPacketSize bytes',
  malformed_packet: 'a packet header or topic length was malformed',
  invalid_topic: 'a PUBLISH topic was not UTF-8 or contained U+0000',
  client_id: 'the client id was empty with clean session off, malformed, or not the one bound to this user',
  anonymous: 'a client without username while anonymous access is off, or with clean session off',
  address_connections: 'a socket arrived while maxConnectionsPerAddress sockets from its address were open',
  bad_credentials: 'unknown username or wrong password',
  login_backoff: 'a CONNECT while its username or address was backing off after failed logins (password not checked)',
  login_lockout: 'a CONNECT while its username or address was locked out after many failed logins (password not checked)',
  publish_denied: 'a publish outside what the principal may publish (the connection is closed)',
  subscribe_denied: 'a subscription outside what the principal may read (SUBACK 0x80)',
} as const;

export type RefusalReason = keyof typeof REFUSAL_REASONS;

/** An error of the broker's API, with a stable code. */
export const BrokerError = createError<BrokerErrorCode>('BrokerError');
export type BrokerError = InstanceType<typeof BrokerError>;
