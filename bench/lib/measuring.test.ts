/**
 * The bench's own measuring tools: percentiles must be exact at 1 ms, and the measuring store must
 * record one latency per stored reading (none for refused ones) and pass everything through.
 * (Not in the vitest "unit" project's include list; run with
 * `npx vitest run --project unit --dir bench` once `bench` is added there, or see bench/README.md.)
 */
import { describe, expect, it } from 'vitest';
import type { ReadingStore, StoredReading, WriteOutcome } from '../../core/store.ts';
import { MsHistogram } from './histogram.ts';
import { MeasuringStore } from './measuring-store.ts';

describe('MsHistogram', () => {
  it('gives nearest-rank percentiles exactly, to the millisecond', () => {
    const h = new MsHistogram(1000);
    for (let v = 1; v <= 100; v++) h.record(v);
    expect(h.summary()).toMatchObject({ count: 100, min: 1, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
  });

  it('clamps negative values to 0 and values beyond the range to the last bucket', () => {
    const h = new MsHistogram(10);
    h.record(-3);
    h.record(5000);
    expect(h.quantile(0.5)).toBe(0);
    expect(h.quantile(1)).toBe(10);
    expect(h.summary().max).toBe(5000);
  });

  it('is empty after reset', () => {
    const h = new MsHistogram(10);
    h.record(3);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.summary().p50).toBeNaN();
  });
});

describe('MeasuringStore', () => {
  // A double of the inner store: this test is about the decorator's bookkeeping, not storage.
  const reading = (ts: number): StoredReading => ({ hub: 'h', domain: 'water', sensor: 's', site: 's', kind: 'water', ts, seq: 0, metrics: { groundwater_level: 1 } });
  // Only what the decorator touches; the cast stands for the rest of the interface.
  const inner = (outcome: (n: number) => WriteOutcome): ReadingStore => ({ kind: 'fake', ping: async () => true, write: async (rs: StoredReading[]) => outcome(rs.length) }) as unknown as ReadingStore;

  it('records now - ts for each stored reading, none for refused ones', async () => {
    const store = new MeasuringStore(
      inner((n) => ({ written: n - 1, rejected: [{ index: 1, reason: 'bad' }] })),
      () => 10_000,
    );
    const out = await store.store.write([reading(9_990), reading(9_000), reading(9_900)]);
    expect(out.written).toBe(2);
    expect(store.counters).toMatchObject({ stored: 2, refused: 1, batches: 1 });
    const { publishToStored } = store.takeLatency();
    expect(publishToStored).toMatchObject({ count: 2, min: 10, max: 100 });
    expect(store.takeLatency().publishToStored.count).toBe(0);
  });

  it('passes every other member through to the inner store', async () => {
    const store = new MeasuringStore(inner(() => ({ written: 0, rejected: [] })));
    expect(store.store.kind).toBe('fake');
    expect(await store.store.ping()).toBe(true);
  });

  it('counts a failed batch and rethrows', async () => {
    const store = new MeasuringStore(
      inner(() => {
        throw new Error('down');
      }),
    );
    await expect(store.store.write([reading(1)])).rejects.toThrow('down');
    expect(store.counters.failedBatches).toBe(1);
    expect(store.counters.stored).toBe(0);
  });
});
