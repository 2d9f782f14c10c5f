/**
 * The connector formats, read from registered.ts (one line per format folder). Adding a network
 * server = one folder (a {@link ConnectorFormat}) + one line there.
 */
import type { ConnectorFormat } from './types.ts';
import * as registered from './registered.ts';

const LIST = Object.values(registered) as unknown as readonly ConnectorFormat<unknown>[];

/** Every registered format, by name. */
export const FORMATS: Readonly<Record<string, ConnectorFormat<unknown>>> = Object.freeze(Object.fromEntries(LIST.map((f) => [f.format, f])));

/** The format named `name`, or undefined. */
export function getFormat(name: string): ConnectorFormat<unknown> | undefined {
  return Object.prototype.hasOwnProperty.call(FORMATS, name) ? FORMATS[name] : undefined;
}
