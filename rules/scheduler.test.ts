import { describe, expect, it } from 'vitest';
import { ManualScheduler, scheduleRules } from './scheduler.ts';

describe('scheduleRules', () => {
  it('one task per cron expression, running its rules in order', async () => {
    const scheduler = new ManualScheduler();
    const ran: string[] = [];
    scheduleRules(scheduler, [{ id: 'a', schedule: '* * * * *' }, { id: 'b', schedule: '*/5 * * * *' }, { id: 'c', schedule: '* * * * *' }], (id) => ran.push(id));
    expect(scheduler.expressions).toEqual(['* * * * *', '*/5 * * * *']);
    await scheduler.run('* * * * *');
    expect(ran).toEqual(['a', 'c']);
  });
});
