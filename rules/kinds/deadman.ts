/**
 * `deadman`: no reading from a sensor (or from any sensor of a site or hub, with `aggregate`) for a
 * duration. Unlike the other kinds this runs on the wall clock: a sensor is silent when nothing
 * has *arrived* from it, whatever its own clock says. Evaluated on the rule's schedule.
 *
 * ```yaml
 * - id: sensor-silent
 *   kind: deadman
 *   select: { hub: demo }   # every sensor of the hub
 *   after: 15m
 * ```
 */
import { z } from 'zod';
import { formatDuration, humanDuration } from '../../core/duration.ts';
import { utcMinute, wherePhrase } from '../message.ts';
import { positiveDurationSchema, ruleBaseShape, scheduleShape } from '../spec.ts';
import type { KindDefinition } from './types.ts';

export const deadmanSchema = z
  .strictObject({
    ...ruleBaseShape,
    ...scheduleShape,
    kind: z.literal('deadman'),
    /** Silence longer than this fires (wall clock). */
    after: positiveDurationSchema,
    /**
     * Also wait for this many missed readings: the limit becomes max(after, missed × the sensor's
     * usual interval between arrivals), so a sensor that reports every 30 minutes is not called
     * silent after 15.
     */
    missed: z.number().positive().optional(),
    /**
     * With `missed`: once a sensor's usual interval is known, the limit is max(atLeast, missed ×
     * that interval) instead, and `after` only covers sensors whose rhythm is not known yet. Lets
     * an accelerated simulation (a reading every half second) report a silent sensor within a
     * minute while a live sensor reporting every 5 minutes is still silent after 15. Default: after.
     */
    atLeast: positiveDurationSchema.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.select.metric) ctx.addIssue({ code: 'custom', path: ['select', 'metric'], message: 'a deadman rule watches whole sensors (any reading counts); remove the metric' });
    if (r.for > 0) ctx.addIssue({ code: 'custom', path: ['for'], message: 'does not apply to a deadman rule (use after)' });
    if (r.atLeast !== undefined && r.missed === undefined) ctx.addIssue({ code: 'custom', path: ['atLeast'], message: 'applies only with missed (the learned interval); without it, use after' });
  });
export type DeadmanRule = z.output<typeof deadmanSchema>;

export const deadman: KindDefinition<DeadmanRule> = {
  kind: 'deadman',
  mode: 'deadman',
  description: 'no reading from a sensor, or from any sensor of a site or hub, for a duration (wall clock)',
  schema: deadmanSchema,
  metrics: () => [],
  spanMs: () => 0,
  evaluate(rule, view, ctx) {
    const seen = view.lastSeen();
    if (!seen) return undefined;
    const silent = Math.max(0, ctx.now - seen.at);
    const limit = rule.missed && seen.gapMs ? Math.max(rule.atLeast ?? rule.after, rule.missed * seen.gapMs) : rule.after;
    const active = silent > limit;
    const n = view.members.length;
    const who =
      view.scope === 'sensor'
        ? wherePhrase('sensor', view.hub, view.subject)
        : `any of the ${n} sensor${n === 1 ? '' : 's'} at ${wherePhrase(view.scope, view.hub, view.subject)}`;
    const last = seen.never
      ? `none has arrived since the rules engine started at ${utcMinute(seen.at)}`
      : view.scope === 'sensor'
        ? `the last reading arrived ${utcMinute(seen.at)}`
        : `the last reading (from ${seen.member.sensor}) arrived ${utcMinute(seen.at)}`;
    const usual = seen.gapMs && rule.missed ? `it usually reports every ${humanDuration(seen.gapMs)}; ` : '';
    const summary = active
      ? `No reading from ${who} for ${humanDuration(silent)} (${usual}limit ${humanDuration(limit)}); ${last}`
      : `Readings from ${who} are arriving again; ${last}`;
    return {
      active,
      ts: ctx.now,
      value: silent / 1000,
      unit: 's',
      facts: { silentSeconds: Math.round(silent / 1000), limitSeconds: Math.round(limit / 1000), after: formatDuration(rule.after), lastSeen: new Date(seen.at).toISOString(), lastSensor: seen.member.sensor },
      summary,
    };
  },
};
