import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../core/reading.ts';
import { Spool } from './spool.ts';

const reading = (seq: number): Reading => ({ hub: 'demo', domain: 'water', sensor: 'w1', site: 's', kind: 'level', ts: 1_780_000_000_000 + seq, seq, metrics: { groundwater_level: seq } });

describe('spool: rows another connection forwarded (release)', () => {
  let dir: string;
  let spool: Spool;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-spool-'));
    spool = new Spool(dir);
  });
  afterEach(() => {
    spool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stop counting at once, and are deleted by the next appends, a slice per commit, then by purge()', () => {
    spool.append(Array.from({ length: 5000 }, (_, i) => reading(i)));
    const rows = spool.take(5000);
    spool.release(rows[0]!.id, rows.at(-1)!.id, rows.length);
    expect(spool.depth()).toBe(0);
    expect(spool.hasReleased()).toBe(true);
    expect(spool.releasedIds()).toBe(5000);
    spool.append([reading(5000)]);
    // A small append deletes 256 of them with its own row; a larger one twice the rows it adds.
    expect(spool.take(10_000)).toHaveLength(4745);
    expect(spool.releasedIds()).toBe(4744);
    spool.append(Array.from({ length: 1000 }, (_, i) => reading(5001 + i)));
    expect(spool.releasedIds()).toBe(2744);
    expect(spool.take(10_000)).toHaveLength(2744 + 1001);
    spool.purge();
    expect(spool.releasedIds()).toBe(0);
    expect(spool.hasReleased()).toBe(false);
    expect(spool.take(10_000).map((r) => r.reading.seq)).toEqual(Array.from({ length: 1001 }, (_, i) => 5000 + i));
    expect(spool.depth()).toBe(1001);
  });

  it('are deleted 2,000 per append while more than 5,000 wait', () => {
    spool.append(Array.from({ length: 8000 }, (_, i) => reading(i)));
    const rows = spool.take(8000);
    spool.release(rows[0]!.id, rows.at(-1)!.id, rows.length);
    spool.append([reading(8000)]);
    expect(spool.releasedIds()).toBe(6000);
    spool.append([reading(8001)]);
    expect(spool.releasedIds()).toBe(4000);
    spool.append([reading(8002)]);
    expect(spool.releasedIds()).toBe(3744);
  });

  it('are deleted when the spool closes; a reopened spool holds only what was not forwarded', () => {
    spool.append(Array.from({ length: 10 }, (_, i) => reading(i)));
    const rows = spool.take(6);
    spool.release(rows[0]!.id, rows.at(-1)!.id, rows.length);
    spool.close();
    spool = new Spool(dir);
    expect(spool.depth()).toBe(4);
    expect(spool.take(10).map((r) => r.reading.seq)).toEqual([6, 7, 8, 9]);
  });
});

describe('spool: append', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spool-append-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every reading of a large commit, in order, whatever its size (multi-row inserts and the rest)', () => {
    const spool = new Spool(dir);
    for (const n of [1, 63, 64, 65, 200]) spool.append(Array.from({ length: n }, (_, i) => reading(i)));
    const all = spool.take(1000);
    expect(all.map((r) => r.reading.seq)).toEqual([1, 63, 64, 65, 200].flatMap((n) => Array.from({ length: n }, (_, i) => i)));
    expect(all.map((r) => r.id)).toEqual(all.map((_, i) => i + 1));
    expect(all[70]!.reading).toEqual(reading(6));
    expect(spool.depth()).toBe(393);
    spool.close();
  });
});
