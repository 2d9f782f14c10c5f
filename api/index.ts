/** The public face of api/: what other roles may use (docs/architecture.md). */
export { buildApp, type ApiServices, type StreamOptions } from './app.ts';
export { type SensorState } from './context.ts';
export { payloadJsonSchemas } from './schemas.ts';
export { startApi } from './server.ts';
