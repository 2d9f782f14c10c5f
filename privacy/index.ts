/**
 * The privacy boundary's public face for the other roles: the policy (types, the explanation for
 * residents) and the scrubbing of free text an unauthenticated reader may see.
 */
export { explainPolicy, explanationText, type PolicyExplanation } from './explain.ts';
export type { CompiledPolicy, PolicySource } from './policy.ts';
export { scrubForPublic, withPublicAckComment, withPublicHistoryComment } from './scrub.ts';
