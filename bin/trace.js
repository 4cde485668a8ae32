#!/usr/bin/env node
// Entry point of the `trace` command. The TypeScript sources are compiled to dist/ by `npm install`
// (the package's prepare script); run `npm run build` after changing them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('trace: dist/ is missing; run `npm install` (or `npm run build`) in the vmtrace directory first\n');
  process.exit(2);
}
const { runCli } = await import(main.href);
await runCli(process.argv);
