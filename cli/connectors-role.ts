/**
 * `steward connect`: the connectors as a role. Inside `steward start` (and any process that runs a
 * node) they hand readings to the node's intake. Alone they run their own durable pipeline: a
 * spool under `<dataDir>/connectors/` (so it never shares the node's spool file) and a forwarder
 * through the privacy boundary into storage, with the registry and dead letters of the data dir.
 * @module
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { Intake } from '../ingest/index.ts';
import { createPipeline, type Pipeline } from '../ingest/index.ts';
import type { Privacy } from '../egress/index.ts';
import { CliError, EXIT } from './errors.ts';
import { openPrivacy } from './privacy.ts';
import { openResources, pipelineChecks, type RoleHandle, type SharedResources } from './roles.ts';
import { checkConnectors } from '../connectors/index.ts';
import { startConnectors, type Connectors } from '../connectors/index.ts';

export async function startConnectRole(config: Config, logger: Logger, opts: { shared?: SharedResources; intake?: Pick<Intake, 'submit' | 'pressure' | 'flush'> } = {}): Promise<RoleHandle & { connectors: Connectors; pipeline?: Pipeline }> {
  const checked = checkConnectors(config);
  if (!checked.ok) throw new CliError(`connectors:\n${checked.errors.join('\n')}`, EXIT.USAGE);
  if (!checked.sources.length) throw new CliError('connectors: no sources configured (connectors.sources in the config)', EXIT.USAGE);
  const own = opts.shared ? undefined : await openResources(config, logger);
  const r = (opts.shared ?? own!.resources) as SharedResources;
  let privacy: Privacy | undefined;
  let pipeline: Pipeline | undefined;
  let intake = opts.intake;
  try {
    if (!intake) {
      privacy = openPrivacy(config, logger, r.metrics);
      pipeline = createPipeline({ config: { ...config, dataDir: join(config.dataDir, 'connectors') }, store: r.store, registry: r.registry, deadLetters: r.deadLetters, privacy: privacy.boundary, metrics: r.metrics, logger });
      privacy.start();
      pipeline.start();
      intake = pipeline.intake;
    }
    const connectors = await startConnectors({
      config: config.connectors,
      sources: checked.sources,
      profiles: checked.profiles,
      intake,
      registry: r.registry,
      deadLetters: r.deadLetters,
      metrics: r.metrics,
      logger,
      ...(pipeline ? { checks: pipelineChecks(pipeline).filter((c) => c.name === 'storage') } : {}),
    });
    let stopped: Promise<void> | undefined;
    return {
      name: 'connect',
      connectors,
      ...(pipeline ? { pipeline } : {}),
      stop: () =>
        (stopped ??= (async () => {
          await connectors.stop();
          await pipeline?.stop();
          privacy?.stop();
          await own?.stop();
        })()),
    };
  } catch (e) {
    await pipeline?.stop().catch(() => undefined);
    privacy?.stop();
    await own?.stop();
    if (e instanceof CliError) throw e;
    throw new CliError(`connectors could not start: ${(e as Error).message}`, EXIT.FAILED, { cause: e });
  }
}
