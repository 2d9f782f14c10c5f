/**
 * The registered connector formats: ONE line per format folder, in alphabetical order. This line
 * is all it takes for `sources[].format` to accept a new network server's format.
 */
export { default as chirpstackV4 } from './chirpstack-v4/index.ts';
export { default as mqttJson } from './mqtt-json/index.ts';
export { default as theThingsStackV3 } from './the-things-stack-v3/index.ts';
