/**
 * Bench role of the rules benchmark, split topology: `steward broker` alone (cli/roles.ts
 * `startBrokerRole`: Aedes, registry authentication, ACLs, packet guard), on free loopback ports,
 * with two in-process subscriptions for the stage split (./rules-marks.ts): `routed` (the broker
 * routed the probe's PUBLISH) and `alerted` (the probe's alert PUBLISH entered the broker).
 *
 *   node --import tsx bench/roles/rules-broker.ts --data-dir DIR --hub demo \
 *     --probe-sensor probe-battery --probe-domain energy --probe-rule probe-battery-low \
 *     [--aedes-concurrency N]
 *
 * Prints `{"type":"ready","ports":…}`; commands `reset`, `stats`.
 * @module
 */
import { startBrokerRole } from '../../cli/roles.ts';
import { parseConfig } from '../../core/config.ts';
import type { Domain } from '../../core/ids.ts';
import { alertTopic, dataTopic } from '../../core/topics.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';
import { alertKey, PhaseMarks, payloadTs, setAedesConcurrency } from './rules-marks.ts';

const args = roleArgs();
const hub = need(args, 'hub');
const probeSensor = need(args, 'probe-sensor');
const probeRule = need(args, 'probe-rule');
const logger = roleLogger('rules-broker', args['log-level'] ?? 'info');
const config = parseConfig({ dataDir: need(args, 'data-dir'), logLevel: args['log-level'] ?? 'info', mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, maxConnections: 10_000, maxConnectionsPerAddress: 10_000 } });
setAedesConcurrency(args['aedes-concurrency']);

const role = await startBrokerRole(config, logger);
const marks = new PhaseMarks();
const probeTopic = dataTopic({ hub, domain: need(args, 'probe-domain') as Domain, sensor: probeSensor });
const offData = await role.broker.subscribe(probeTopic, (_t, payload) => marks.mark('routed', payloadTs(payload)));
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
    await offData();
    await role.stop();
  },
);
emit({ type: 'ready', pid: process.pid, ports: role.ports });
