/**
 * When windowed rules run. The engine asks an injected `Scheduler` to call a task on a cron
 * expression; production uses node-cron, tests a `ManualScheduler` they drive themselves.
 */
import nodeCron from 'node-cron';

/** A scheduled task handle. */
export interface ScheduledTask {
  stop(): void;
}

export interface Scheduler {
  /** Calls `task` on each tick of the cron `expression` (5 fields, or 6 with seconds first). */
  schedule(expression: string, task: () => void | Promise<void>): ScheduledTask;
}

/** node-cron. Overlapping runs of one task are skipped; timers do not keep the process alive. */
export function cronScheduler(): Scheduler {
  return {
    schedule(expression, task) {
      const t = nodeCron.createTask(expression, () => task(), { noOverlap: true, unref: true, suppressMissedWarning: true });
      void t.start();
      return {
        stop() {
          void t.destroy();
        },
      };
    },
  };
}

/** A scheduler that runs nothing by itself: tests call `run()` to tick (all tasks or one expression). */
export class ManualScheduler implements Scheduler {
  readonly #tasks = new Map<number, { expression: string; task: () => void | Promise<void> }>();
  #next = 0;

  schedule(expression: string, task: () => void | Promise<void>): ScheduledTask {
    const id = this.#next++;
    this.#tasks.set(id, { expression, task });
    return { stop: () => void this.#tasks.delete(id) };
  }

  /** Expressions currently scheduled. */
  get expressions(): string[] {
    return [...this.#tasks.values()].map((t) => t.expression);
  }

  /** Runs every task (or those on `expression`) once, in scheduling order, and waits for them. */
  async run(expression?: string): Promise<void> {
    for (const t of [...this.#tasks.values()]) if (expression === undefined || t.expression === expression) await t.task();
  }
}

/** One task per cron expression among `rules`, calling `run` with the id of each rule on it, in order. */
export function scheduleRules(scheduler: Scheduler, rules: Iterable<{ id: string; schedule: string }>, run: (id: string) => void): ScheduledTask[] {
  const byCron = new Map<string, string[]>();
  for (const r of rules) byCron.set(r.schedule, [...(byCron.get(r.schedule) ?? []), r.id]);
  return [...byCron].map(([cron, ids]) => scheduler.schedule(cron, () => ids.forEach(run)));
}
