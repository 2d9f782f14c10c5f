/**
 * The operations endpoints of a role run alone (`steward broker`, `steward ingest`, `steward
 * rules`): `/health` (the process answers), `/ready` (every check of the role passes; 503 names
 * what does not) and `/metrics` (Prometheus text). `steward api` and `steward start` serve the same
 * three paths on the API's port.
 * @module
 */
import Fastify from 'fastify';
import type { Logger } from './log.ts';
import { renderMetrics, type PipelineMetrics } from './metrics.ts';

/** One readiness check: `ok`, and a sentence for the operator when it is not. */
export interface ReadinessCheck {
  name: string;
  check(): { ok: boolean; detail?: string } | Promise<{ ok: boolean; detail?: string }>;
}

export interface OpsServerOptions {
  role: string;
  host: string;
  /** 0 = any free port. */
  port: number;
  metrics: PipelineMetrics;
  logger: Logger;
  checks: ReadinessCheck[];
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

/** Runs every check (a check that throws counts as failed) and says which failed. */
export async function readiness(checks: readonly ReadinessCheck[]): Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }> {
  const out: Record<string, { ok: boolean; detail?: string }> = {};
  for (const c of checks) {
    try {
      out[c.name] = await c.check();
    } catch (e) {
      out[c.name] = { ok: false, detail: (e as Error).message };
    }
  }
  return { ready: Object.values(out).every((c) => c.ok), checks: out };
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  // Probes come every few seconds: their requests are not worth a log line (warnings and errors are).
  const app = Fastify({ loggerInstance: o.logger.child({ role: o.role, component: 'ops-http' }, { level: 'warn' }) });
  app.get('/health', async () => ({ status: 'ok', role: o.role }));
  app.get('/ready', async (_req, reply) => {
    const r = await readiness(o.checks);
    if (r.ready) return { status: 'ready', role: o.role, checks: r.checks };
    const reasons = Object.entries(r.checks)
      .filter(([, c]) => !c.ok)
      .map(([name, c]) => `${name}: ${c.detail ?? 'down'}`);
    return reply.code(503).send({ status: 'not ready', role: o.role, reasons, checks: r.checks });
  });
  app.get('/metrics', async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await renderMetrics(o.metrics)));
  const url = await app.listen({ host: o.host, port: o.port });
  o.logger.info({ role: o.role, url }, 'health, readiness and metrics served');
  return { url, close: () => app.close() };
}
