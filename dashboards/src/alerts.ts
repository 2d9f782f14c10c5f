/** Queries over the `alerts` measurement the rules engine writes (see ../lib/alerts-schema.ts). */
import { q } from './kit.ts';

/** Annotation: every alert of the selected hub as it starts firing, with its message. */
export function alertsAnnotationQuery(): string {
  return q`SELECT "message", "rule", "severity" FROM "alerts" WHERE $timeFilter AND "hub" =~ /^$hub$/ AND "state" = 'firing'`;
}

/** Active alerts: rule and subject whose latest state is `firing`. */
export function activeAlertsQuery(): string {
  return q`SELECT "rule", "subject", "severity", "message", "value"
    FROM (SELECT last("state") AS "state", last("message") AS "message", last("value") AS "value"
          FROM "alerts" WHERE $timeFilter AND "hub" =~ /^$hub$/ GROUP BY "rule", "subject", "severity")
    WHERE "state" = 'firing'`;
}

/** Alerts starting to fire per interval, by severity. */
export function alertCountQuery(): string {
  return q`SELECT count("message") FROM "alerts" WHERE $timeFilter AND "hub" =~ /^$hub$/ AND "state" = 'firing' GROUP BY time($__interval), "severity" fill(0)`;
}

/**
 * Shannon index per subject (site) from the values the rules engine's `diversity` rules with
 * `index: shannon` record. ASSUMPTION: the alert sink stores a point per evaluation or
 * transition with tag `kind` = the rule kind and field `value` = the index.
 */
export function shannonQuery(): string {
  return q`SELECT last("value") FROM "alerts" WHERE $timeFilter AND "hub" =~ /^$hub$/ AND "kind" = 'diversity' AND "rule" =~ /shannon/ GROUP BY time($__interval), "subject" fill(none)`;
}
