/**
 * Builds the Steward dashboards and writes them to dashboards/json/ (what Grafana provisions).
 *
 *     npx tsx dashboards/src/build.ts           # write
 *     npx tsx dashboards/src/build.ts --check   # exit 1 if a committed file differs
 *
 * The tests fail when a committed JSON file is not what this produces, so edit the TypeScript,
 * run the build and commit both.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { biodiversity } from './biodiversity.ts';
import { energy } from './energy.ts';
import type { Obj } from './kit.ts';
import { overview } from './overview.ts';
import { pipeline } from './pipeline.ts';
import { soilCarbon } from './soil.ts';
import { watershed } from './watershed.ts';

/** Directory of the provisioned dashboard JSON files. */
export const JSON_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'json');

/** Every dashboard, by file name. */
export function buildDashboards(): Record<string, Obj> {
  return {
    'commons-overview.json': overview(),
    'watershed.json': watershed(),
    'energy.json': energy(),
    'soil-carbon.json': soilCarbon(),
    'biodiversity.json': biodiversity(),
    'pipeline-health.json': pipeline(),
  };
}

/** The file text of a dashboard: 2-space JSON and a final newline. */
export function render(d: Obj): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

/** File names whose committed text differs from the build (missing files count). */
export function staleFiles(dir = JSON_DIR): string[] {
  return Object.entries(buildDashboards())
    .filter(([file, d]) => {
      try {
        return readFileSync(join(dir, file), 'utf8') !== render(d);
      } catch {
        return true;
      }
    })
    .map(([file]) => file);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length) {
      console.error(`out of date: ${stale.join(', ')} (run: npx tsx dashboards/src/build.ts)`);
      process.exit(1);
    }
    console.log('dashboards/json is up to date');
  } else {
    for (const [file, d] of Object.entries(buildDashboards())) writeFileSync(join(JSON_DIR, file), render(d));
    console.log(`wrote ${Object.keys(buildDashboards()).length} dashboards to ${JSON_DIR}`);
  }
}
