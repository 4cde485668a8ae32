// Runs the `trace` command from the current sources (tsx, not dist/: the code the test checks is the code that
// runs) in a child process, asynchronously. A Linux recording is tens of seconds to minutes of CPU; in the
// test worker it would hold the worker's event loop between slices, and under heavy load vitest's RPC to the
// worker (birpc, a fixed 60 s) once gave up ("Timeout calling onTaskUpdate"). In a child the worker only waits.

import { execFile } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function traceCli(args: string[], o: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'test', 'helpers', 'traceMain.ts'), ...args],
      { cwd: root, env: { ...process.env, ...o.env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        if (err !== null && typeof code !== 'number') return reject(err);
        resolve({ status: typeof code === 'number' ? code : 0, stdout, stderr });
      });
  });
}
