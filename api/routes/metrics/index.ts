/**
 * `/metrics`: the process's Prometheus metrics (readings accepted, rejected by reason, spool depth,
 * storage write latency, connected MQTT clients…), in the text exposition format.
 */
import fp from 'fastify-plugin';
import { renderMetrics } from '../../../telemetry/metrics.ts';

export default fp(
  async (app) => {
    const { metrics, health } = app.steward;
    app.get('/metrics', { schema: { summary: 'Prometheus metrics of this process (text exposition format)', tags: ['operations'] } }, async (_request, reply) => {
      const ingest = health.ingest?.();
      if (ingest) metrics.spoolDepth.set(ingest.spoolDepth);
      const text = await renderMetrics(metrics);
      return reply.type(metrics.registry.contentType).send(text);
    });
  },
  { name: 'steward-route-metrics', dependencies: ['steward-context'], encapsulate: true },
);
