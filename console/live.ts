/**
 * The in-process live feed between the pipeline and the console's event stream: ingest's
 * `onStored` (records after the privacy boundary, as storage took them) and the rules engine's
 * alert sink publish here; every open console stream subscribes. Listeners that throw are
 * isolated (one broken client never stops the others).
 */
import type { AlertEvent, AlertSink } from '../core/alert.ts';
import type { StoredReading } from '../core/store.ts';

/** What the console needs of a stored record: metrics in canonical units, no attributes. */
export type LiveReadingInput = Pick<StoredReading, 'hub' | 'domain' | 'sensor' | 'site' | 'kind' | 'ts' | 'metrics'> & { species?: string | undefined };

export type ReadingsListener = (readings: readonly LiveReadingInput[]) => void;
export type AlertsListener = (events: readonly AlertEvent[]) => void;

/** Subscribes a listener; returns the function that unsubscribes it. */
export type Subscribe<L> = (listener: L) => () => void;

/**
 * What a readings listener needs: every stored record (a console stream), or only species
 * detections (the species tally). The pipeline hands back no more than its listeners need
 * (`wants()`); a detections listener may still be given other records, and skips them.
 */
export interface ReadingsInterest {
  only?: 'detections';
}

export interface LiveFeed {
  /** Hands stored (privacy-filtered) records to every subscriber: wire to ingest's `onStored`. */
  publishReadings(readings: readonly LiveReadingInput[]): void;
  /** Hands alert transitions and acknowledgements to every subscriber. */
  publishAlerts(events: readonly AlertEvent[]): void;
  subscribeReadings(listener: ReadingsListener, interest?: ReadingsInterest): () => void;
  subscribeAlerts: Subscribe<AlertsListener>;
  /**
   * An AlertSink for the rules engine (`createRulesEngine({ sink })`) that publishes here and then
   * passes the events on to `next` (e.g. the store's `alerts` measurement), if given.
   */
  alertSink(next?: AlertSink): AlertSink;
  /** Current subscribers (readings, alerts). */
  listenerCount(): { readings: number; alerts: number };
  /** Which stored records the readings listeners need now: all, only species detections, or none. */
  wants(): 'all' | 'detections' | 'none';
}

export interface LiveFeedOptions {
  /** Told when a listener throws (default: ignored). */
  onListenerError?: (err: unknown) => void;
}

/** Builds an empty feed. Two feeds in one process are independent. */
export function createLiveFeed(opts: LiveFeedOptions = {}): LiveFeed {
  const readings = new Set<ReadingsListener>();
  const alerts = new Set<AlertsListener>();
  /** Readings listeners that want species detections only. */
  const detectionsOnly = new Set<ReadingsListener>();
  const call = <T>(set: Set<(x: T) => void>, x: T): void => {
    for (const l of [...set]) {
      try {
        l(x);
      } catch (err) {
        opts.onListenerError?.(err);
      }
    }
  };
  // A wrapper per subscription: the same function subscribed twice is two subscriptions.
  const add = <L>(set: Set<L>, l: L): L => {
    const w = ((x: unknown) => (l as (x: unknown) => void)(x)) as L;
    set.add(w);
    return w;
  };
  const feed: LiveFeed = {
    publishReadings(r) {
      if (r.length) call(readings, r);
    },
    publishAlerts(e) {
      if (e.length) call(alerts, e);
    },
    subscribeReadings(listener, interest) {
      const w = add(readings, listener);
      if (interest?.only === 'detections') detectionsOnly.add(w);
      return () => {
        readings.delete(w);
        detectionsOnly.delete(w);
      };
    },
    subscribeAlerts(listener) {
      const w = add(alerts, listener);
      return () => {
        alerts.delete(w);
      };
    },
    alertSink(next) {
      return {
        async write(events) {
          feed.publishAlerts(events);
          if (next) await next.write(events);
        },
      };
    },
    listenerCount: () => ({ readings: readings.size, alerts: alerts.size }),
    wants: () => (readings.size > detectionsOnly.size ? 'all' : readings.size > 0 ? 'detections' : 'none'),
  };
  return feed;
}
