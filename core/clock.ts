/** Injected time source, so rules and ingest are testable on a fake timeline. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The hub's clock when it is not the wall clock (a scenario replaying a month at 3600×). */
export interface HubClock {
  /** Hub time now (sensor time), epoch ms. */
  now: number;
  /** Hub ms per real ms at the moment. */
  rate: number;
  scenario?: string;
}
