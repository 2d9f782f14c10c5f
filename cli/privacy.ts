/**
 * The privacy boundary a process opens from its config (the broker's or ingest's pipeline, and the
 * forwarder's thread, which opens its own from the same config).
 * @module
 */
import type { Config } from '../core/config.ts';
import { createPrivacy, type Privacy } from '../egress/index.ts';
import type { Logger } from '../telemetry/log.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import { CliError, EXIT } from './errors.ts';

/**
 * The privacy boundary of a process, from the whole config: besides the registry's accounts it
 * knows the names of the config file's API token holders (the scrubber removes them). Throws
 * CliError naming the policy problem.
 */
export function openPrivacy(config: Config, logger: Logger, metrics: PipelineMetrics): Privacy {
  try {
    return createPrivacy({ config: config.privacy, dataDir: config.dataDir, logger, metrics, nameSources: [() => config.http.tokens.map((t) => t.name)] });
  } catch (e) {
    throw new CliError(`privacy policy: ${(e as Error).message}`, EXIT.USAGE, { cause: e });
  }
}
