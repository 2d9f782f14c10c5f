/** The public face of connectors/: what other roles may use (docs/architecture.md). */
export { checkConnectors } from './check.ts';
export { startConnectors, type Connectors } from './service.ts';
