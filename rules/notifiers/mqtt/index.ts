/**
 * MQTT delivery. The current state of each alert is a retained QoS 1 message on
 * `csm/v1/{hub}/alerts/{rule}/{subject}` (core/topics.ts `alertTopic`); a subscriber that connects
 * later still gets every alert in force. On resolve the notifier publishes the resolved state
 * (not retained, so live subscribers hear that it ended) and then an empty retained payload,
 * which clears the topic [MQTT-3.3.1-10, -11].
 *
 * The same notifier, named `regional` with `regionalTopic`, escalates alerts (critical depletion
 * by default) to `regional/v1/{hub}/alerts/{rule}/{subject}`, the prefix the upstream bridge to
 * the regional network forwards.
 */
import { alertTopic } from '../../../core/topics.ts';
import { NotifyError } from '../../errors.ts';
import type { Notification, Notifier, PublishFn, RetryPolicy } from '../types.ts';

/** Default prefix of escalated alerts. */
export const REGIONAL_PREFIX = 'regional/v1';

/** `regional/v1/{hub}/alerts/{rule}/{subject}` (ids are already validated by `alertTopic`). */
export function regionalTopic(hub: string, rule: string, subject: string, prefix = REGIONAL_PREFIX): string {
  return alertTopic(hub, rule, subject).replace(/^csm\/v1\//, `${prefix}/`);
}

export interface MqttNotifierOptions {
  publish: PublishFn;
  /** Target name (default `mqtt`). */
  name?: string;
  /** Topic of an alert (default `alertTopic`). */
  topic?: (hub: string, rule: string, subject: string) => string;
  /** Per publish, ms (default 10 s: a QoS 1 PUBACK that long overdue means the broker is gone). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

/** Creates the MQTT notifier. */
export function createMqttNotifier(o: MqttNotifierOptions): Notifier {
  const topicOf = o.topic ?? alertTopic;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const publish = async (topic: string, payload: string, retain: boolean): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NotifyError('RULES_ERR_NOTIFIER_TIMEOUT', `no PUBACK for ${topic} within ${timeoutMs} ms`, true)), timeoutMs);
    });
    try {
      await Promise.race([o.publish(topic, payload, { qos: 1, retain }), timeout]);
    } catch (e) {
      if (e instanceof NotifyError) throw e;
      throw new NotifyError('RULES_ERR_NOTIFIER_NETWORK', `publish to ${topic} failed: ${(e as Error).message}`, true, undefined, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    name: o.name ?? 'mqtt',
    retry: { maxAttempts: 8, initialMs: 250, maxMs: 30_000, ...o.retry },
    async notify(n: Notification) {
      const a = n.alert;
      const topic = topicOf(a.hub, a.rule, a.subject);
      const body = JSON.stringify({ ...a, event: n.event });
      if (n.event === 'resolved') {
        await publish(topic, body, false);
        await publish(topic, '', true);
      } else {
        await publish(topic, body, true);
      }
    },
  };
}
