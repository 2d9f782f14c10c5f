/**
 * Coded errors of the privacy boundary, and the actions it counts in
 * `steward_privacy_actions_total{action}`. privacy/README.md lists the same codes and actions;
 * errors.test.ts keeps them in step.
 */
import { createError } from '../core/errors.ts';

/** Stable error codes. */
export const PRIVACY_ERRORS = {
  PRIVACY_ERR_POLICY_FILE: 'the policy file cannot be read or is not valid YAML',
  PRIVACY_ERR_POLICY_INVALID: 'the policy does not match the policy schema, or names an unknown metric, attribute, operation or domain',
  PRIVACY_ERR_POLICY_PERSONAL: 'the policy would publish a field marked personal unfiltered (or coarsen it too little)',
  PRIVACY_ERR_KEY: 'a pseudonymisation key is missing, malformed or too short',
  PRIVACY_ERR_UNFILTERABLE: 'a reading cannot be filtered (unknown attribute or metric, wrong type, household reading without id or area); it is withheld',
  PRIVACY_ERR_UNFILTERED: 'a record without a policy version was handed to a publisher; it is not published',
  PRIVACY_ERR_STATE: 'a component was used before start() or after stop()',
  PRIVACY_ERR_OPTIONS: 'a factory was given unusable options',
} as const;

export type PrivacyErrorCode = keyof typeof PRIVACY_ERRORS;

/** An error of the privacy boundary, with a stable code. Messages never contain a secret or a personal value. */
export const PrivacyError = createError<PrivacyErrorCode>('PrivacyError');
export type PrivacyError = InstanceType<typeof PrivacyError>;

/** Values of the `action` label of `steward_privacy_actions_total`. */
export const PRIVACY_ACTIONS = {
  dropped: 'an attribute or metric value removed',
  pseudonymised: 'an attribute value replaced by its keyed pseudonym',
  scrubbed: 'free text that had contact details, links, coordinates or names removed',
  coarsened: 'a location snapped to the grid or geohash cell of its rule',
  time_coarsened: 'a timestamp rounded down to the policy step',
  generalised: 'the location of a sensitive taxon generalised to its coarse cell',
  location_withheld: 'a location removed (a rule says withhold)',
  withheld: 'a whole record not published (counted by the forwarder, or a publisher refusing an unfiltered record)',
  aggregated: 'a household reading taken into its area and window group (never stored by itself)',
  late: 'a household reading for a group already closed, or older than the horizon (not counted in any group)',
  emitted: 'an area and window group published (at least the minimum of households, none above the share limit), with noise',
  over_budget: "a household left out of a group's total because its privacy budget for the day was spent",
  suppressed: 'an area and window group not published (too few households, or one above the share limit)',
} as const;

export type PrivacyAction = keyof typeof PRIVACY_ACTIONS;

/** Receives the actions of one filtering pass (the boundary forwards them to the metrics). */
export type ActionSink = (action: PrivacyAction, n?: number) => void;

/** An action sink that ignores everything. */
export const ignoreActions: ActionSink = () => {};
