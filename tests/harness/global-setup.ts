/**
 * Vitest globalSetup for the `integration` and `faults` projects: build dist/ when it is missing
 * or older than the sources (the tests run `bin/steward.js`, i.e. the compiled code, as
 * production does), fail fast, with the Debian package to install, when a service binary is
 * missing, kill service processes orphaned by test workers that died without cleaning up, and drop the
 * port claims such workers left.
 * The services themselves are started by the tests via ./services.ts.
 *
 * @module
 */
import { ensureBuilt } from '../../scripts/build.ts';
import { missingBinaries, sweepOrphans, sweepPortClaims } from './services.ts';

/** Build dist/ if stale; check that influxd, mosquitto, mosquitto_pub/sub and victoria-metrics are installed. */
export async function setup(): Promise<void> {
  await ensureBuilt((line) => console.log(`[global-setup] ${line}`));
  const missing = missingBinaries();
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.debianPackage))].join(' ');
    throw new Error(
      `Integration tests need: ${missing.map((m) => `${m.binary} (Debian package ${m.debianPackage})`).join(', ')}.\n` +
        `Install with: apt-get install -y ${pkgs}   (or run \`npm test\` as root, which installs them)`,
    );
  }
  await sweepOrphans();
  sweepPortClaims();
}

/** Kill services left behind by crashed workers (cheap: reads one small pid directory). */
export async function teardown(): Promise<void> {
  await sweepOrphans({ includeOwnProcess: true });
  sweepPortClaims();
}
