/**
 * The simulator registry, read from registered.ts (one line per simulator). `_template/` is
 * deliberately not registered.
 */
import { SimulatorError } from './errors.ts';
import type { SimulatorDefinition } from './types.ts';

import * as registered from './registered.ts';

/** Every registered simulator, in the order of registered.ts. */
const LIST: readonly SimulatorDefinition[] = Object.values(registered);

/** Every registered simulator, by kind. */
export const SIMULATORS: Readonly<Record<string, SimulatorDefinition>> = Object.freeze(Object.fromEntries(LIST.map((d) => [d.kind, d])));

/** The simulator registered as `kind`. Throws SimulatorError `SIM_ERR_UNKNOWN_KIND`. */
export function getSimulator(kind: string): SimulatorDefinition {
  const def = Object.prototype.hasOwnProperty.call(SIMULATORS, kind) ? SIMULATORS[kind] : undefined;
  if (!def) throw new SimulatorError('SIM_ERR_UNKNOWN_KIND', `unknown simulator kind "${kind}"; known: ${Object.keys(SIMULATORS).join(', ')}`);
  return def;
}
