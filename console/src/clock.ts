/**
 * The hub's clock: the time its data is on. Live, that is the wall clock; while a scenario replays
 * a month at 3600× it is the simulated clock, weeks behind the wall clock and catching up. The
 * page shows "2 h ago", chart ranges and alert times on it, so a scenario's readings are "just
 * now", not "24 days ago".
 */

/** As `GET /api/v1/console/config` gives it. */
export type { HubClockView as HubClock } from '../../core/views.ts';
import type { HubClockView as HubClock } from '../../core/views.ts';

/**
 * Hub time at `wall` (this browser's clock), from the clock the server sent at `receivedAt`:
 * it runs `rate` times faster and never passes the server's wall clock (as the simulator's).
 */
export function hubTime(c: HubClock | null | undefined, receivedAt: number, wall: number): number {
  if (!c) return wall;
  const elapsed = Math.max(0, wall - receivedAt);
  return Math.min(c.now + elapsed * c.rate, c.wall + elapsed);
}

/** Whether the hub's clock is a replay running behind the wall clock (more than a minute). */
export function isReplay(c: HubClock | null | undefined, receivedAt: number, wall: number): boolean {
  if (!c) return false;
  const elapsed = Math.max(0, wall - receivedAt);
  return c.wall + elapsed - hubTime(c, receivedAt, wall) > 60_000;
}
