/**
 * The `steward` command. bin/steward.js runs this file compiled (dist/cli/steward.js, `npm run build`);
 * `npx tsx cli/steward.ts` runs it from the sources. See `steward --help` and cli/program.ts for the commands.
 */
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv);
