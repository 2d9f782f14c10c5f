/**
 * Bench role of the rules benchmark, split topology: `steward rules` alone. The same composition
 * as cli/roles.ts `startRulesRole` (resources of `openResources`, `createRules`, `subscribeRaw`
 * of cli/rules-role.ts: its own mqtt.js connection with the `rules` service account, reading the
 * raw tier and publishing alerts on that connection), written out here only to add two marks
 * (./rules-marks.ts): `handled` (after `engine.onReadings` returned for the probe's reading) and
 * `published` (the alert handed to the connection's publish).
 *
 *   BENCH_RULES_PASSWORD=… node --import tsx bench/roles/rules-standalone.ts --data-dir DIR \
 *     --broker-url mqtt://127.0.0.1:PORT --rules PATH[,PATH…] --hub demo \
 *     --probe-sensor probe-battery
 *
 * Prints `{"type":"ready"}` once subscribed; commands `reset`, `stats`.
 * @module
 */
import { openResources, type SharedResources } from '../../cli/roles.ts';
import { createRules, subscribeRaw, type PublishFn } from '../../cli/rules-role.ts';
import { parseConfig } from '../../core/config.ts';
import type { RulesEngine } from '../../rules/engine.ts';
import { forceNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';
import { alertKey, PhaseMarks } from './rules-marks.ts';

const args = roleArgs();
// Experiment knob: TCP_NODELAY on the process's own mqtt.js connections (Steward leaves Nagle on).
if (args['service-nodelay'] === 'true') forceNoDelay();
const password = process.env.BENCH_RULES_PASSWORD;
if (!password) throw new Error('BENCH_RULES_PASSWORD is not set');
const hub = need(args, 'hub');
const probeSensor = need(args, 'probe-sensor');
const logger = roleLogger('rules-standalone', args['log-level'] ?? 'info');
const config = parseConfig({
  dataDir: need(args, 'data-dir'),
  logLevel: args['log-level'] ?? 'info',
  rules: { paths: need(args, 'rules').split(','), brokerUrl: need(args, 'broker-url'), username: 'rules' },
});

const own = await openResources(config, logger, { deadLetters: false });
const r = own.resources as SharedResources;
const marks = new PhaseMarks(r.metrics);
const ref: { publish?: PublishFn } = {};
const publish: PublishFn = (t, p, o) => {
  const key = alertKey(typeof p === 'string' ? p : Buffer.from(p));
  if (key) marks.mark('published', key);
  return ref.publish ? ref.publish(t, p, o) : Promise.reject(new Error('rules are not connected yet'));
};
const engine = await createRules({ config, store: r.store, registry: r.registry, metrics: r.metrics, logger, publish });
// subscribeRaw calls only `onReadings`: the real engine's, then the mark.
const marked = {
  onReadings(rs) {
    engine.onReadings(rs);
    marks.markReadings('handled', rs, hub, probeSensor);
  },
} as Pick<RulesEngine, 'onReadings'> as RulesEngine;
const conn = await subscribeRaw({ config, registry: r.registry, engine: marked, logger, password });
ref.publish = conn.publish;
engine.start();

serve(
  'rules-standalone',
  async (c) => {
    if (!(await marks.handle(c))) reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    marks.stop();
    await conn.stop();
    await engine.stop();
    await own.stop();
  },
);
emit({ type: 'ready', pid: process.pid });
