// The `trace` command from the current sources, for test/helpers/traceCli.ts (run under tsx in a child process).
import { runCli } from '../../src/cli/main.js';

await runCli(process.argv);
