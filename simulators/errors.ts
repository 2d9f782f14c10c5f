/**
 * Coded errors of the simulators package. Every error a caller can act on has a stable code;
 * the message names the simulator, sensor or option at fault.
 */
import { createError } from '../core/errors.ts';

export const SIM_ERROR_CODES = {
  SIM_ERR_UNKNOWN_KIND: 'no simulator is registered under this kind',
  SIM_ERR_CONFIG: "a simulator's or the runner's configuration is invalid",
  SIM_ERR_UNKNOWN_SCENARIO: 'no scenario is registered under this name',
  SIM_ERR_DUPLICATE_SENSOR: 'two fleet entries share a sensor id',
  SIM_ERR_TIME: 'a simulated time was asked for outside the window the world model keeps',
  SIM_ERR_STATE: 'the runner was used out of its lifecycle order (start twice, start after stop)',
} as const;

export type SimErrorCode = keyof typeof SIM_ERROR_CODES;

/** An error raised by the simulators, with a stable `code`. */
export const SimulatorError = createError<SimErrorCode>('SimulatorError');
export type SimulatorError = InstanceType<typeof SimulatorError>;
