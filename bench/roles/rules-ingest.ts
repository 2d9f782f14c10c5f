/**
 * Bench role of the rules benchmark, split topology: `steward ingest` alone (cli/roles.ts
 * `startIngestRole` on the resources of `openResources`: embedded store, dead letters, spool,
 * default privacy policy), subscribed to the broker with the `ingest` service account. Not on the
 * alert path in this topology (the rules role reads the raw tier itself); it is here because a
 * hub runs it, and it counts the readings accepted.
 *
 *   BENCH_INGEST_PASSWORD=… node --import tsx bench/roles/rules-ingest.ts --data-dir DIR \
 *     --broker-url mqtt://127.0.0.1:PORT
 *
 * Prints `{"type":"ready"}` once subscribed; commands `reset`, `stats`.
 * @module
 */
import { openResources, startIngestRole, type SharedResources } from '../../cli/roles.ts';
import { parseConfig } from '../../core/config.ts';
import { forceNoDelay } from '../lib/mqtt.ts';
import { emit, need, reply, roleArgs, roleLogger, serve } from '../lib/role.ts';
import { PhaseMarks } from './rules-marks.ts';

const args = roleArgs();
// Experiment knob: TCP_NODELAY on the process's own mqtt.js connections (Steward leaves Nagle on).
if (args['service-nodelay'] === 'true') forceNoDelay();
const password = process.env.BENCH_INGEST_PASSWORD;
if (!password) throw new Error('BENCH_INGEST_PASSWORD is not set');
const brokerUrl = need(args, 'broker-url');
const logger = roleLogger('rules-ingest', args['log-level'] ?? 'info');
const config = parseConfig({ dataDir: need(args, 'data-dir'), logLevel: args['log-level'] ?? 'info', ingest: { brokerUrl, username: 'ingest' } });

const resources = await openResources(config, logger);
const role = await startIngestRole(config, logger, { shared: resources.resources as SharedResources, credentials: { username: 'ingest', password }, brokerUrl });
const marks = new PhaseMarks(resources.resources.metrics);

serve(
  'rules-ingest',
  async (c) => {
    if (!(await marks.handle(c, () => ({ spoolDepth: role.ingest.spoolDepth() })))) reply(c, { type: 'error', message: `unknown command ${c.cmd}` });
  },
  async () => {
    marks.stop();
    await role.stop();
    await resources.stop();
  },
);
emit({ type: 'ready', pid: process.pid });
