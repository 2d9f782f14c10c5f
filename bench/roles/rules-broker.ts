/**
 * Bench role of the rules benchmark, split topology: `steward broker` alone (cli/roles.ts
 * `startBrokerRole`: a node, i.e. Aedes with registry authentication and ACLs, the durable intake
 * in its publish path and the forwarder into the embedded store), on free loopback ports, with
 * an in-process subscription for the stage split (./rules-marks.ts): `alerted` (the probe's alert
 * PUBLISH entered the broker). `steward rules` reads the QoS 0 raw-tier copies the node sends
 * after each commit.
 *
 *   node --import tsx bench/roles/rules-broker.ts --data-dir DIR --hub demo \
 *     --probe-sensor probe-battery --probe-rule probe-battery-low [--aedes-concurrency N]
 *
 * Prints `{"type":"ready","ports":…}`; commands `reset`, `stats`.
 * @module
 */
import { startBrokerRole } from '../../cli/roles.ts';
import { parseConfig } from '../../core/config.ts';
import { alertTopic } from '../../core/topics.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';
import { alertKey, PhaseMarks, setAedesConcurrency } from './rules-marks.ts';

const args = roleArgs();
const hub = need(args, 'hub');
const probeSensor = need(args, 'probe-sensor');
const probeRule = need(args, 'probe-rule');
const logger = roleLogger('rules-broker', args['log-level'] ?? 'info');
const config = parseConfig({ dataDir: need(args, 'data-dir'), logLevel: args['log-level'] ?? 'info', mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, maxConnections: 10_000, maxConnectionsPerAddress: 10_000 } });
setAedesConcurrency(args['aedes-concurrency']);

const role = await startBrokerRole(config, logger);
const marks = new PhaseMarks();
const offAlerts = await role.broker.subscribe(`${alertTopic(hub, probeRule, probeSensor).slice(0, -probeSensor.length)}+`, (_t, payload) => {
  const key = alertKey(payload);
  if (key) marks.mark('alerted', key);
});

serve(
  'rules-broker',
  async (c) => {
    if (!(await marks.handle(c))) reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    marks.stop();
    await offAlerts();
    await role.stop();
  },
);
emit({ type: 'ready', pid: process.pid, ports: role.ports });
