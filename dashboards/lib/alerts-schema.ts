/**
 * The `alerts` measurement as the rules engine's sink writes it (cli/rules-role.ts storeSink ->
 * storage/lineprotocol.ts alertsToPoints): tags `hub`, `rule`, `subject`, `severity`, `kind` (the
 * rule kind); fields `state` (string: pending, firing, resolved, acknowledged), `value` (float:
 * the number the rule judged), `message` (string: plain words). A test checks these names against
 * the serialiser (ingest-schema.ts alertsSchema).
 */
export const ALERTS_SCHEMA = {
  measurement: 'alerts',
  tags: ['hub', 'rule', 'subject', 'severity', 'kind'],
  fields: ['state', 'value', 'message'],
} as const;
