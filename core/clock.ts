/** Injected time source, so rules and ingest are testable on a fake timeline. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
