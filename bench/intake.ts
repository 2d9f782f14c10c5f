/**
 * The intake's hot path alone, in this process: MQTT topic + payload → validated reading → group
 * commit into the SQLite spool → the PUBACK's callback, for the bench fleet's native readings.
 * Reports CPU µs per reading (this process's user + system time, so another process's load moves
 * it less than wall time); the minimum and the median of `--rounds` rounds. What the pipeline bench
 * measures end to end, without the sockets, the forwarder or the load generator: a quick A/B for a
 * change to parsing, validation or the spool.
 *
 *   node --import tsx bench/intake.ts [--sensors 200] [--readings 100000] [--rounds 6] [--turn 400]
 *
 * `--turn`: messages submitted per event-loop turn (committed together, as the broker's publish
 * path does with what arrives in one turn). The spool is emptied as the forwarder would (released
 * and purged by the intake's own commits) whenever it holds 20,000 readings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Intake } from '../ingest/intake.ts';
import { Spool } from '../ingest/spool.ts';
import { Registry } from '../registry/registry.ts';
import { DeadLetterStore } from '../storage/deadletters.ts';
import { createLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { benchArgs } from './lib/args.ts';
import { BENCH_HUB, benchPayload, registerFleet } from './lib/fleet.ts';

const HELP = `Usage: node --import tsx bench/intake.ts [options]
  --sensors N     registered sensors publishing in turn (default 200)
  --readings N    readings per round (default 100000)
  --rounds N      measured rounds, after one warm-up round (default 6)
  --turn N        messages submitted per event-loop turn (default 400)
  -h, --help
`;
const { opt, num } = benchArgs(HELP, {
  sensors: { type: 'string', default: '200' },
  readings: { type: 'string', default: '100000' },
  rounds: { type: 'string', default: '6' },
  turn: { type: 'string', default: '400' },
});
const SENSORS = num('sensors', opt.sensors, 1);
const READINGS = num('readings', opt.readings, 1);
const ROUNDS = num('rounds', opt.rounds, 1);
const TURN = num('turn', opt.turn, 1);

const dir = mkdtempSync(join(tmpdir(), 'steward-bench-intake-'));
try {
  const { secrets } = await registerFleet({ dir, n: SENSORS, batch: 100, noun: 'sensors', log: () => undefined });
  const registry = Registry.open(dir);
  // As the forwarder's thread runs it: the intake's commits seldom checkpoint (see Spool).
  const spool = new Spool(dir, { autoCheckpointPages: 10_000 });
  const deadLetters = new DeadLetterStore(dir);
  const intake = new Intake({ spool, deadLetters, registry, metrics: createMetrics(), logger: createLogger('warn'), config: { maxSkewMs: 300_000, maxPayloadBytes: 65_536, batchSize: 5_000 } });
  const devices = secrets.creds.map((c) => ({ ...c, topic: `csm/v1/${BENCH_HUB}/${c.domain}/${c.sensor}/data` }));
  let seq = 0;
  const round = async (n: number): Promise<number> => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i += TURN) {
      await new Promise<void>((resolve, reject) => {
        let left = TURN;
        for (let j = 0; j < TURN; j++) {
          const d = devices[(i + j) % devices.length]!;
          intake.submit(d.topic, Buffer.from(benchPayload(d.domain, seq++, Date.now())), (v) => {
            if (!v.accepted) reject(new Error(`refused: ${v.reason}`));
            else if (--left === 0) resolve();
          });
        }
      });
      if (spool.depth() >= 20_000) {
        const first = spool.take(1)[0]!.id;
        spool.release(first, first + spool.depth() - 1, spool.depth());
        spool.checkpoint();
      }
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  await round(Math.min(READINGS, 50_000));
  const xs: number[] = [];
  for (let k = 0; k < ROUNDS; k++) xs.push(await round(READINGS));
  xs.sort((a, b) => a - b);
  process.stdout.write(`intake: ${SENSORS} sensors, ${TURN} messages per turn, ${ROUNDS} rounds of ${READINGS}: CPU µs per reading min ${xs[0]!.toFixed(2)}, median ${xs[Math.floor(xs.length / 2)]!.toFixed(2)}\n`);
  intake.close();
  spool.close();
  deadLetters.close();
  registry.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
