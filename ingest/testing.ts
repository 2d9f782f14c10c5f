/**
 * Test fixture of the durable intake, shared by the tests of ingest, of the broker with its intake
 * and of the connector host: a temp dir with the registry, dead-letter store and metrics an
 * {@link Intake} needs, and the one teardown for all of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../registry/index.ts';
import { DeadLetterStore } from '../storage/index.ts';
import { createMetrics, type PipelineMetrics } from '../telemetry/metrics.ts';
import type { Intake } from './intake.ts';
import type { Spool } from './spool.ts';

export interface IntakeParts {
  dir: string;
  registry: Registry;
  deadLetters: DeadLetterStore;
  metrics: PipelineMetrics;
}

/** A fresh temp dir (`<tmp>/<prefix>XXXXXX`) with an open registry and dead-letter store, and new metrics. */
export function openIntakeParts(prefix: string): IntakeParts {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, registry: Registry.open(dir), deadLetters: new DeadLetterStore(dir), metrics: createMetrics() };
}

/** Closes the intake, spool, dead letters and registry (those given), then removes the dir. */
export function closeIntakeParts(p: { dir: string; intake?: Intake | undefined; spool?: Spool | undefined; deadLetters?: DeadLetterStore | undefined; registry?: Registry | undefined }): void {
  p.intake?.close();
  p.spool?.close();
  p.deadLetters?.close();
  p.registry?.close();
  rmSync(p.dir, { recursive: true, force: true });
}

/** Polls `cond` every 10 ms until it holds; throws "timed out" after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
