/**
 * The connector formats: one import line per format folder, and the same name in the list below.
 * Keep both alphabetical. Adding a network server = one folder (a {@link ConnectorFormat}) + one line.
 */
import type { ConnectorFormat } from './types.ts';

import chirpstackV4 from './chirpstack-v4/index.ts';
import mqttJson from './mqtt-json/index.ts';
import theThingsStackV3 from './the-things-stack-v3/index.ts';

const LIST = [chirpstackV4, mqttJson, theThingsStackV3] as unknown as readonly ConnectorFormat<unknown>[];

/** Every registered format, by name. */
export const FORMATS: Readonly<Record<string, ConnectorFormat<unknown>>> = Object.freeze(Object.fromEntries(LIST.map((f) => [f.format, f])));

/** The format named `name`, or undefined. */
export function getFormat(name: string): ConnectorFormat<unknown> | undefined {
  return Object.prototype.hasOwnProperty.call(FORMATS, name) ? FORMATS[name] : undefined;
}
