#!/usr/bin/env node
// Entry point of the `steward` command: runs the compiled CLI (dist/cli/steward.js, made by
// `npm run build`; `npm install` in a clone runs the build). No TypeScript loader is involved.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli/steward.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`steward: not built (${cli.pathname} is missing): run npm run build\n`);
  process.exit(1);
}
await import(cli.href);
