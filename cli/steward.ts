/**
 * The `steward` command (bin/steward.js registers tsx and imports this file). See `steward --help`
 * and cli/program.ts for the commands.
 */
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv);
