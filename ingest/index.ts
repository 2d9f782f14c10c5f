/** The public face of ingest/: what other roles may use (docs/architecture.md). */
export { createIngest, type Ingest } from './ingest.ts';
export { Intake, rejectionPublisher, validateMessage, type Verdict } from './intake.ts';
export { createPipeline, type Pipeline } from './pipeline.ts';
export { Spool } from './spool.ts';
export { ForwarderThread, serveForwarder, type BatchReport, type ForwarderThreadData, type StoredMode } from './forwarder-thread.ts';
export { createSubscriber, type Subscriber } from './subscriber.ts';
