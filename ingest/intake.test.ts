import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Registry } from '../registry/index.ts';
import type { DeadLetterStore } from '../storage/index.ts';
import { silentLogger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { Intake, type Verdict } from './intake.ts';
import { Spool } from './spool.ts';
import { closeIntakeParts, openIntakeParts } from './testing.ts';

const CONFIG = { maxSkewMs: 300_000, maxPayloadBytes: 65_536, batchSize: 5000 };
const TOPIC = 'csm/v1/demo/water/well-1/data';
const reading = (seq: number, ts = Date.now()): Buffer => Buffer.from(JSON.stringify({ ts, seq, metrics: { groundwater_level: 40 + seq / 1000 } }));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('intake: durable before acknowledged', () => {
  let dir: string;
  let registry: Registry;
  let spool: Spool;
  let deadLetters: DeadLetterStore;
  let metrics: PipelineMetrics;
  let intake: Intake;

  const make = (spoolOpts: { maxBytes?: number } = {}, retryMs = 20): void => {
    spool = new Spool(dir, spoolOpts);
    intake = new Intake({ spool, deadLetters, registry, metrics, logger: silentLogger, config: CONFIG, retryMs });
  };

  beforeEach(async () => {
    ({ dir, registry, deadLetters, metrics } = openIntakeParts('steward-intake-'));
    await registry.addSensor({ hub: 'demo', domain: 'water', sensor: 'well-1', password: 'pw-well-1-secret' });
  });
  afterEach(() => closeIntakeParts({ dir, intake, spool, deadLetters, registry }));

  it('calls done only once the reading is in the spool, and commits a turn of messages in one transaction', async () => {
    make();
    let transactions = 0;
    const append = spool.append.bind(spool);
    spool.append = (rs) => {
      transactions++;
      append(rs);
    };
    const seenAtDone: number[] = [];
    for (let seq = 0; seq < 50; seq++) {
      intake.submit(TOPIC, reading(seq), () => {
        // What a PUBACK sent now would promise: the reading is already in the spool.
        seenAtDone.push(spool.take(1000).filter((s) => s.reading.seq === seq).length);
      });
    }
    expect(spool.depth()).toBe(0); // nothing acknowledged yet, nothing committed yet
    await turn();
    expect(transactions).toBe(1);
    expect(seenAtDone).toEqual(Array(50).fill(1));
  });

  it('keeps an invalid message as a dead letter with its reason, and answers in submission order', async () => {
    make();
    const order: Array<[number, Verdict['accepted']]> = [];
    intake.submit(TOPIC, reading(1), (v) => order.push([1, v.accepted]));
    intake.submit(TOPIC, Buffer.from('{"ts": 1, "metrics": {'), (v) => order.push([2, v.accepted]));
    intake.submit('csm/v1/demo/water/nobody/data', reading(3), (v) => order.push([3, v.accepted]));
    intake.submit(TOPIC, reading(4), (v) => order.push([4, v.accepted]));
    await turn();
    expect(order).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [4, true],
    ]);
    const letters = deadLetters.list();
    expect(letters.map((d) => d.code).sort()).toEqual(['malformed_json', 'unregistered_sensor']);
    expect(letters.find((d) => d.code === 'unregistered_sensor')?.reason).toContain('"nobody"');
  });

  it('holds acknowledgements while the spool is at its quota, says why, and resumes by itself when space returns', async () => {
    make({ maxBytes: 64 * 1024 }, 10);
    const big = (seq: number): Buffer => reading(seq);
    let acked = 0;
    let seq = 0;
    // Fill the spool until the intake stops acknowledging.
    while (!intake.pressure()) {
      intake.submit(TOPIC, big(seq++), () => acked++);
      await turn();
      if (seq > 5000) throw new Error('the quota never took effect');
    }
    expect(intake.pressure()).toMatchObject({ reason: 'spool_quota' });
    expect(intake.pressure()!.message).toContain('quota');
    const gauge = await metrics.intakePaused.get();
    expect(gauge.values.find((v) => v.labels.reason === 'spool_quota')?.value).toBe(1);
    const held = seq - acked;
    expect(held).toBeGreaterThan(0);
    // More messages while paused wait too: nothing is acknowledged that is not on disk.
    intake.submit(TOPIC, big(seq++), () => acked++);
    await new Promise((r) => setTimeout(r, 50));
    expect(seq - acked).toBe(held + 1);
    // Storage takes a batch: the forwarder removes it from the spool, and space returns.
    const taken = spool.take(5000);
    spool.remove(taken[0]!.id, taken[taken.length - 1]!.id);
    const until = Date.now() + 5000;
    while (acked < seq && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(acked).toBe(seq);
    expect(intake.pressure()).toBeUndefined();
    const after = await metrics.intakePaused.get();
    expect(after.values.find((v) => v.labels.reason === 'spool_quota')?.value).toBe(0);
    // Every reading acknowledged is in the spool exactly once (none written twice by the retries).
    const seqs = spool.take(10_000).map((s) => s.reading.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('accepts the valid metrics of a partly valid message and keeps each bad one as a dead letter', async () => {
    make();
    let verdict: Verdict | undefined;
    const payload = Buffer.from(JSON.stringify({ ts: Date.now(), seq: 9, metrics: { groundwater_level: 41.5, water_temperature: { value: 12, unit: 'furlongs' } } }));
    intake.submit(TOPIC, payload, (v) => (verdict = v));
    await turn();
    expect(verdict).toMatchObject({ accepted: true });
    expect(spool.take(10).map((s) => s.reading.metrics)).toEqual([{ groundwater_level: 41.5 }]);
    const letters = deadLetters.list();
    expect(letters.map((d) => d.code)).toEqual(['unit']);
    expect(letters[0]?.reason).toContain('water_temperature');
  });

  it('under overload (storage takes readings but the backlog is past its high-water mark) acknowledges only as storage catches up', async () => {
    spool = new Spool(dir);
    let flowing = true;
    intake = new Intake({ spool, deadLetters, registry, metrics, logger: silentLogger, config: CONFIG, backlog: { highWater: 10, flowing: () => flowing } });
    let acked = 0;
    for (let seq = 0; seq < 10; seq++) intake.submit(TOPIC, reading(seq), () => acked++);
    await turn();
    expect(acked).toBe(10); // under the mark: acknowledged at once
    for (let seq = 10; seq < 20; seq++) intake.submit(TOPIC, reading(seq), () => acked++);
    await turn();
    expect(spool.depth()).toBe(20); // durable…
    expect(acked).toBe(10); // …but the devices wait: 20 readings wait for storage, more than 10
    // Storage takes a batch: the held acknowledgements go out, in order.
    const taken = spool.take(15);
    spool.remove(taken[0]!.id, taken[taken.length - 1]!.id);
    const until = Date.now() + 2000;
    while (acked < 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(acked).toBe(20);
    // Storage down: the spool absorbs (up to its quota) instead of holding the devices.
    flowing = false;
    for (let seq = 20; seq < 40; seq++) intake.submit(TOPIC, reading(seq), () => acked++);
    await turn();
    expect(acked).toBe(40);
  });

  it('passes committed readings to listeners (the rules engine) after the commit', async () => {
    make();
    const got: number[] = [];
    intake.onReadings((rs) => got.push(...rs.map((r) => r.seq!)));
    intake.submit(TOPIC, reading(7), () => undefined);
    await turn();
    expect(got).toEqual([7]);
  });
});
