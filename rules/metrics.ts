/**
 * Prometheus metrics of the rules engine, registered on the process's registry (passed in; no
 * global registry). Creating them twice on one registry reuses the first set.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface RulesMetrics {
  evaluations: Counter<'kind'>;
  evaluationSeconds: Histogram<'mode'>;
  transitions: Counter<'rule' | 'to'>;
  notifications: Counter<'target' | 'outcome'>;
  readingsLate: Counter<'reason'>;
  reloads: Counter<'outcome'>;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/** Creates (or finds) the rules metrics on `registry`; without one, on a private registry. */
export function createRulesMetrics(registry?: Registry): RulesMetrics | undefined {
  if (!registry) return undefined;
  const hist = (registry.getSingleMetric('steward_rules_evaluation_seconds') as Histogram<'mode'> | undefined) ??
    new Histogram({ name: 'steward_rules_evaluation_seconds', help: 'Time to evaluate one batch of readings (stream) or one scheduled run (window, deadman)', labelNames: ['mode'], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] });
  return {
    evaluations: counter(registry, 'steward_rules_evaluations_total', 'Subjects evaluated, by rule kind', ['kind']),
    evaluationSeconds: hist,
    transitions: counter(registry, 'steward_alert_transitions_total', 'Alert state changes, by rule and new state', ['rule', 'to']),
    notifications: counter(registry, 'steward_alert_notifications_total', 'Alert deliveries, by target and outcome (delivered, retried, failed, rejected, silenced)', ['target', 'outcome']),
    readingsLate: counter(registry, 'steward_rules_readings_ignored_total', 'Readings the windows ignored (too_old: older than the window)', ['reason']),
    reloads: counter(registry, 'steward_rules_reloads_total', 'Rule set reloads, by outcome (applied, rejected)', ['outcome']),
  };
}
