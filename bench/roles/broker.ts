/**
 * Bench role: the Steward broker (createBroker: Aedes, registry authentication, ACLs, packet
 * guard) in its own process, on free loopback ports.
 *
 *   node --import tsx bench/roles/broker.ts --registry-dir DIR [--max-connections N]
 *
 * Prints `{"type":"ready","ports":{"mqtt":…,"ws":…}}`; answers `{"cmd":"clients"}` with the
 * number of connected clients; stops on `{"cmd":"stop"}`, SIGTERM, SIGINT or when stdin closes.
 * @module
 */
import { createBroker } from '../../broker/broker.ts';
import { parseConfig } from '../../core/config.ts';
import { Registry } from '../../registry/registry.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';

const args = roleArgs();
const registry = Registry.open(need(args, 'registry-dir'));
const config = parseConfig({
  dataDir: need(args, 'registry-dir'),
  mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, maxConnections: Number(args['max-connections'] ?? 10_000), maxConnectionsPerAddress: Number(args['max-connections'] ?? 10_000) },
});
const logger = roleLogger('broker');
const metrics = createMetrics();
const broker = createBroker({ config: config.mqtt, registry, logger, metrics });

serve(
  'broker',
  (c) => {
    if (c.cmd === 'clients') reply(c, { type: 'clients', connected: broker.connectedClients() });
    else reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    await broker.stop();
    registry.close();
  },
);

const ports = await broker.start();
emit({ type: 'ready', ports, pid: process.pid });
