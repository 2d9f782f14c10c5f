import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStateStore, type LastSeenRow } from './state.ts';

describe('AlertStateStore: rules.db is checkpointed off the writer', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('its commits reach the database file although the writer never checkpoints (a transition does not pay for the fsync)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-rules-state-'));
    dirs.push(dir);
    const errors: string[] = [];
    const store = AlertStateStore.open(dir, { onCheckpointError: (m) => errors.push(m) });
    const file = join(dir, 'rules.db');
    const before = statSync(file).size;
    // About 1 MB of last-seen rows in ten commits: below SQLite's usual automatic checkpoint
    // (1,000 pages) and the store's bound (10,000), so only the store's checkpointer moves them
    // (without it this test fails).
    for (let batch = 0; batch < 10; batch++) {
      const rows: LastSeenRow[] = Array.from({ length: 500 }, (_, i) => ({ hub: 'demo', sensor: `s-${batch}-${i}-${'x'.repeat(120)}`, site: 'well-1', domain: 'water', at: 1_700_000_000_000 + i, gap: null }));
      store.saveLastSeen(rows);
    }
    const deadline = Date.now() + 10_000;
    while (statSync(file).size < before + 500_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(file).size).toBeGreaterThan(before + 500_000);
    await store.close();
    expect(errors).toEqual([]);
    const again = AlertStateStore.open(dir);
    expect(again.loadLastSeen()).toHaveLength(5000);
    await again.close();
  });
});
