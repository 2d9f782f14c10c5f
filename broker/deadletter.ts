/** Keeps publishes the broker refused as dead letters (code `topic_mismatch`), with the reason. */
import type { DeadLetterStore } from '../storage/index.ts';
import type { RefusedPublish } from './broker.ts';

/**
 * An `onRefusedPublish` handler writing to a dead-letter store. `deadLetters` is a getter so the
 * store may be opened after the broker is built.
 */
export function refusedToDeadLetter(deadLetters: () => DeadLetterStore | undefined): (r: RefusedPublish) => void {
  return (r) => {
    const dot = r.username?.indexOf('.') ?? -1;
    const hub = dot > 0 ? r.username!.slice(0, dot) : undefined;
    const sensor = dot > 0 ? r.username!.slice(dot + 1) : undefined;
    deadLetters()?.add({ receivedAt: Date.now(), topic: r.topic, hub, sensor, code: 'topic_mismatch', reason: r.reason, payload: r.payload });
  };
}
