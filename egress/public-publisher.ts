/**
 * Open data on MQTT: every filtered record is published on `public/v1/{hub}/{domain}/{sensor}`
 * (retained, so an anonymous subscriber sees each sensor's latest record at once). Only records
 * that passed the boundary are accepted (record.ts); anything else is refused and counted
 * `withheld`. The MQTT side is injected: the hub broker's in-process `publish`, or an mqtt.js client.
 */
import { PUBLIC_ROOT } from '../core/topics.ts';
import type { StoredReading } from '../core/store.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { type PrivacyError, type PublicRecord, toPublicRecord } from '../privacy/index.ts';

/** Publishes one message (e.g. `broker.publish`). Rejects when it could not. */
export type PublishFn = (topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>;

export interface PublicPublisherOptions {
  publish: PublishFn;
  logger?: Logger;
  metrics?: Pick<PipelineMetrics, 'privacyActions'>;
  /** Retain each sensor's latest record (default true). */
  retain?: boolean;
  /** Default 0: open data is best effort; storage and the public API hold the history. */
  qos?: 0 | 1;
  /**
   * Does anyone subscribe to this public topic now? For a topic nobody reads, only the latest
   * record of a batch is published (to keep the retained message current), or none without
   * retain: per-reading work nobody asked for costs next to nothing. Default: publish every record.
   */
  liveSubscribers?: (topic: string) => boolean;
}

export interface PublishOutcome {
  published: number;
  /** Records refused because they did not pass the boundary. */
  refused: number;
  /** Records the MQTT side failed to take. */
  failed: number;
}

export interface PublicPublisher {
  /** Publishes filtered records, in order. Never throws; failures are counted and logged. */
  publish(records: readonly StoredReading[]): Promise<PublishOutcome>;
}

/** `public/v1/{hub}/{domain}/{sensor}` of a record (ids already checked by record.ts). */
export function publicTopic(r: Pick<PublicRecord, 'hub' | 'domain' | 'sensor'>, root = PUBLIC_ROOT): string {
  return `${root}/${r.hub}/${r.domain}/${r.sensor}`;
}

export function createPublicPublisher(o: PublicPublisherOptions): PublicPublisher {
  const retain = o.retain ?? true;
  const qos = o.qos ?? 0;
  let warned = false;
  return {
    async publish(all) {
      const res: PublishOutcome = { published: 0, refused: 0, failed: 0 };
      let records: readonly StoredReading[] = all;
      const live = o.liveSubscribers;
      if (live) {
        // The last record of each unread topic stands for its batch; read topics get every record.
        const topics = all.map((r) => publicTopic(r));
        const last = new Map<string, number>();
        topics.forEach((t, i) => last.set(t, i));
        records = all.filter((_, i) => live(topics[i]!) || (retain && last.get(topics[i]!) === i));
      }
      for (const r of records) {
        let rec: PublicRecord;
        try {
          rec = toPublicRecord(r);
        } catch (e) {
          res.refused++;
          o.metrics?.privacyActions.inc({ action: 'withheld' });
          // The message names the field, never a value.
          o.logger?.error({ code: (e as PrivacyError).code, hub: r.hub, sensor: r.sensor, reason: (e as Error).message }, 'record refused by the public publisher');
          continue;
        }
        try {
          await o.publish(publicTopic(rec), Buffer.from(JSON.stringify(rec)), { qos, retain });
          res.published++;
        } catch (e) {
          res.failed++;
          if (!warned) o.logger?.warn({ err: { message: (e as Error).message } }, 'public MQTT publish failed');
          warned = true;
        }
      }
      if (res.failed === 0) warned = false;
      return res;
    },
  };
}
