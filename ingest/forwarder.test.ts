import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.ts';
import type { Reading } from '../core/reading.ts';
import { createDefaultFilter } from '../privacy/index.ts';
import { DeadLetterStore } from '../storage/index.ts';
import { RetryableStorageError, type ReadingStore, type StoredReading, type WriteOutcome } from '../core/store.ts';
import { silentLogger } from '../telemetry/log.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { Forwarder } from './forwarder.ts';
import { Spool } from './spool.ts';
import { waitFor } from './testing.ts';

/**
 * A scripted store: a test double on purpose, to drive the forwarder through outage, refusal and
 * recovery deterministically. The real stores are exercised in tests/ingest-*.test.ts.
 */
class ScriptedStore implements ReadingStore {
  readonly kind = 'scripted';
  stored: StoredReading[] = [];
  down = false;
  refuseSensor: string | undefined;
  calls = 0;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async ping(): Promise<boolean> {
    return !this.down;
  }
  async write(rs: StoredReading[]): Promise<WriteOutcome> {
    this.calls++;
    if (this.down) throw new RetryableStorageError('connection refused');
    const rejected: WriteOutcome['rejected'] = [];
    rs.forEach((r, index) => (r.sensor === this.refuseSensor ? rejected.push({ index, reason: 'field type conflict' }) : this.stored.push(r)));
    return { written: rs.length - rejected.length, rejected };
  }
  async writePipeline(): Promise<void> {}
  async writeAlerts(): Promise<void> {}
  async writeEvaluations(): Promise<void> {}
  async latest() {
    return [];
  }
  async range() {
    return [];
  }
  async downsample() {
    return { hours: 0, days: 0, speciesDays: 0 };
  }
  async speciesCounts() {
    return [];
  }
}

const reading = (sensor: string, seq: number, extra: Partial<Reading> = {}): Reading => ({ hub: 'demo', domain: 'energy', sensor, site: 's', kind: 'meter', ts: 1_780_000_000_000 + seq, seq, metrics: { pv_power: seq }, ...extra });

describe('spool and forwarder', () => {
  let dir: string;
  let spool: Spool;
  let dead: DeadLetterStore;
  let store: ScriptedStore;
  let fwd: Forwarder;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-fwd-'));
    spool = new Spool(dir);
    dead = new DeadLetterStore(dir);
    store = new ScriptedStore();
    fwd = new Forwarder({ spool, store, privacy: createDefaultFilter(), deadLetters: dead, metrics: createMetrics(), logger: silentLogger, clock: systemClock, batchSize: 100, flushIntervalMs: 20, maxBackoffMs: 50 });
  });
  afterEach(async () => {
    await fwd.stop(100);
    spool.close();
    dead.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps readings across a restart of the spool and forwards them once storage takes them', async () => {
    spool.append([reading('a', 1), reading('a', 2)]);
    spool.close();
    spool = new Spool(dir);
    expect(spool.depth()).toBe(2);
    fwd = new Forwarder({ spool, store, privacy: createDefaultFilter(), deadLetters: dead, metrics: createMetrics(), logger: silentLogger, clock: systemClock, batchSize: 100, flushIntervalMs: 20 });
    fwd.start();
    await waitFor(() => spool.depth() === 0);
    expect(store.stored.map((r) => r.seq)).toEqual([1, 2]);
  });

  it('holds everything through a storage outage and delivers it all, in order, when storage returns', async () => {
    store.down = true;
    fwd.start();
    for (let i = 0; i < 250; i++) spool.append([reading('a', i)]);
    await waitFor(() => store.calls >= 3);
    expect(fwd.reachable()).toBe(false);
    expect(spool.depth()).toBe(250);
    store.down = false;
    await waitFor(() => spool.depth() === 0);
    expect(store.stored.map((r) => r.seq)).toEqual([...Array(250).keys()]);
    expect(fwd.reachable()).toBe(true);
  });

  it('sends points storage refuses for good to the dead letters and keeps the rest flowing', async () => {
    store.refuseSensor = 'bad';
    fwd.start();
    spool.append([reading('a', 1), reading('bad', 2), reading('a', 3)]);
    await waitFor(() => spool.depth() === 0);
    expect(store.stored.map((r) => r.seq)).toEqual([1, 3]);
    expect(dead.list()).toMatchObject([{ code: 'storage_rejected', sensor: 'bad', reason: 'field type conflict' }]);
  });

  it('never stores personal metrics or attributes (privacy boundary, fail closed)', async () => {
    fwd.start();
    spool.append([
      reading('hh', 1, { metrics: { household_power: 420 }, attributes: { household_id: 'hh-1' } }),
      reading('pv', 2, { attributes: { household_id: 'hh-2', firmware: '1.2' }, location: { lat: 51.123456, lon: -1.98765 } }),
    ]);
    await waitFor(() => spool.depth() === 0);
    expect(store.stored).toHaveLength(1);
    expect(store.stored[0]).toMatchObject({ sensor: 'pv', attributes: { firmware: '1.2' }, location: { lat: 51.125, lon: -1.985 }, policy: 'default-1' });
    expect(JSON.stringify(store.stored)).not.toMatch(/hh-/);
  });

  it('reads the next batch while storage takes one; a failed write drops the batch read ahead, and nothing is lost or stored twice', async () => {
    for (let i = 0; i < 450; i++) spool.append([reading('a', i)]);
    // Each write waits until the test lets it go; the second fails once.
    const gates: Array<() => void> = [];
    const write = store.write.bind(store);
    let n = 0;
    store.write = async (rs) => {
      const call = ++n;
      await new Promise<void>((resolve) => gates.push(resolve));
      if (call === 2) throw new RetryableStorageError('connection reset');
      return write(rs);
    };
    const takes: number[] = [];
    const take = spool.take.bind(spool);
    spool.take = (limit, afterId) => {
      takes.push(afterId ?? 0);
      return take(limit, afterId);
    };
    fwd.start();
    await waitFor(() => gates.length === 1 && takes.length === 2);
    // Batch 1 is being written and batch 2 was read ahead, after batch 1's last row.
    expect(takes).toEqual([0, 100]);
    for (let i = 0; i < 40 && spool.depth() > 0; i++) {
      await waitFor(() => gates.length > 0);
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => spool.depth() === 0);
    expect(store.stored.map((r) => r.seq)).toEqual([...Array(450).keys()]);
  });

  it('flushes what it holds on stop', async () => {
    fwd.start();
    await fwd.stop(0);
    spool.append([reading('a', 1)]);
    await fwd.stop(1000);
    expect(spool.depth()).toBe(0);
  });
});
