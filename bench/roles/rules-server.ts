/**
 * Bench role of the rules benchmark: `steward start` without the simulated fleet, i.e.
 * `startAll` of cli/roles.ts (embedded store, the node (broker with the durable intake in its
 * publish path, forwarder), API and rules engine in one process, sharing one registry and one
 * metrics registry; rules fed by the intake's `onReadings`), on free loopback ports. Instrumented
 * from the outside only, for the stage split of the publish-to-alert latency:
 *
 * - `handled`: an `intake.onReadings` listener registered after the rules engine's: the reading
 *   is committed to the spool and the stream rules have run (listeners are called in order,
 *   synchronously);
 * - `alerted`: an in-process broker subscription to the probe's alert topics: the alert's
 *   PUBLISH has entered the broker.
 *
 * (./rules-marks.ts explains the marks.)
 *
 *   node --import tsx bench/roles/rules-server.ts --data-dir DIR --rules PATH[,PATH…] \
 *     --hub demo --probe-sensor probe-battery --probe-rule probe-battery-low \
 *     [--log-level info] [--aedes-concurrency N]
 *
 * Prints `{"type":"ready","ports":…}`. Commands: `reset` (starts a phase), `stats` (the phase so
 * far: marks, readings accepted, CPU, event-loop delay, stream evaluation time, spool depth).
 * @module
 */
import type { SharedResources } from '../../cli/roles.ts';
import { startAll } from '../../cli/roles.ts';
import { parseConfig } from '../../core/config.ts';
import { alertTopic } from '../../core/topics.ts';
import type { BrokerRole } from '../../cli/roles.ts';
import { forceNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';
import { alertKey, payloadTs, PhaseMarks, setAedesConcurrency } from './rules-marks.ts';

const args = roleArgs();
// Experiment knob: TCP_NODELAY on the process's own mqtt.js connections (Steward leaves Nagle on).
if (args['service-nodelay'] === 'true') forceNoDelay();
const hub = need(args, 'hub');
const probeSensor = need(args, 'probe-sensor');
const probeRule = need(args, 'probe-rule');
const logger = roleLogger('rules-server', args['log-level'] ?? 'info');
const config = parseConfig({
  dataDir: need(args, 'data-dir'),
  logLevel: args['log-level'] ?? 'info',
  mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, maxConnections: 10_000, maxConnectionsPerAddress: 10_000 },
  http: { host: '127.0.0.1', port: 0 },
  rules: { paths: need(args, 'rules').split(',') },
  ingest: { forwarderNice: Number(args['forwarder-nice'] ?? 0) },
});

setAedesConcurrency(args['aedes-concurrency']);

const all = await startAll(config, logger, { sim: false });
const storage = all.handles.find((h) => h.name === 'storage') as unknown as { resources: SharedResources };
const node = all.handles.find((h) => h.name === 'broker') as BrokerRole;
const broker = node.broker;
const pipeline = node.pipeline!;
const marks = new PhaseMarks(storage.resources.metrics);

const unsubscribeAlerts = await broker.subscribe(`${alertTopic(hub, probeRule, probeSensor).slice(0, -probeSensor.length)}+`, (_t, payload) => {
  const key = alertKey(payload);
  if (key) marks.mark('alerted', key);
});
// The probe's reading as the broker hands it to the intake (validation, then the group commit).
const probeTopicEnd = `/${probeSensor}/data`;
const submit = pipeline.intake.submit.bind(pipeline.intake);
pipeline.intake.submit = (topic, payload, done) => {
  if (topic.endsWith(probeTopicEnd) && topic.startsWith(`csm/v1/${hub}/`)) marks.mark('received', payloadTs(payload));
  submit(topic, payload, done);
};
// Registered after the engine's listener: called once the reading is spooled and the stream rules have run.
const offReadings = pipeline.intake.onReadings((rs) => marks.markReadings('handled', rs, hub, probeSensor));

serve(
  'rules-server',
  async (c) => {
    if (!(await marks.handle(c, () => ({ spoolDepth: pipeline.spoolDepth() })))) reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    marks.stop();
    offReadings();
    await unsubscribeAlerts();
    // Reverse order of start, as `runUntilSignal` does.
    for (const h of [...all.handles].reverse()) await h.stop();
  },
);
emit({ type: 'ready', pid: process.pid, ports: all.ports, apiUrl: all.apiUrl });
