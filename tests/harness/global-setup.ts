/**
 * Vitest globalSetup for the `integration` project: fail fast, with the Debian
 * package to install, when a service binary is missing, and kill service
 * processes orphaned by test workers that died without cleaning up.
 * The services themselves are started by the tests via ./services.ts.
 *
 * @module
 */
import { missingBinaries, sweepOrphans } from './services.ts';

/** Check that influxd, mosquitto, mosquitto_pub/sub and victoria-metrics are installed. */
export async function setup(): Promise<void> {
  const missing = missingBinaries();
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.debianPackage))].join(' ');
    throw new Error(
      `Integration tests need: ${missing.map((m) => `${m.binary} (Debian package ${m.debianPackage})`).join(', ')}.\n` +
        `Install with: apt-get install -y ${pkgs}   (or run \`npm test\` as root, which installs them)`,
    );
  }
  await sweepOrphans();
}

/** Kill services left behind by crashed workers (cheap: reads one small pid directory). */
export async function teardown(): Promise<void> {
  await sweepOrphans({ includeOwnProcess: true });
}
