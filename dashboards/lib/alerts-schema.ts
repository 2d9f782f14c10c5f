/**
 * The `alerts` measurement as the rules engine writes it (rules/, issue 3).
 * ASSUMPTION until rules/ exports its storage schema: tags `hub`, `rule`, `subject`, `severity`,
 * `kind` (the rule kind: threshold, depletion, diversity, …); fields `state` (string: pending,
 * firing, resolved), `value` (float: the number the rule judged), `message` (string: plain words).
 */
export const ALERTS_SCHEMA = {
  measurement: 'alerts',
  tags: ['hub', 'rule', 'subject', 'severity', 'kind'],
  fields: ['state', 'value', 'message'],
} as const;
