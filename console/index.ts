/** The public face of console/: what other roles may use (docs/architecture.md). */
export { createLiveFeed } from './live.ts';
export { consoleIndexPath, createConsoleService, type ConsoleClock } from './service.ts';
