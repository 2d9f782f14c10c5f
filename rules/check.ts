/**
 * `steward rules check [PATH]`: validates rule files without running anything.
 */
import { packagePath } from '../core/paths.ts';
import { formatIssue, loadRules, type RuleIssue } from './loader.ts';

/** The shipped default rule set (rules/defaults/). */
export const DEFAULT_RULES_DIR = packagePath('rules', 'defaults');

export interface CheckResult {
  ok: boolean;
  /** One line per problem: `file: rule "id": field: message (line n)`. */
  errors: string[];
  issues: RuleIssue[];
  /** Rules found (when ok). */
  rules: number;
  files: string[];
}

/**
 * Checks the rule files at `path` (a file, a directory searched recursively, or a list).
 * Never throws for a bad file: problems come back in `errors`.
 */
export function checkRules(path: string | readonly string[] = DEFAULT_RULES_DIR): CheckResult {
  const r = loadRules(path);
  if (!r.ok) return { ok: false, errors: r.errors.map(formatIssue), issues: r.errors, rules: 0, files: [] };
  return { ok: true, errors: [], issues: [], rules: r.ruleSet.rules.length, files: r.ruleSet.files };
}
