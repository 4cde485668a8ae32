// `trace workloads`: the named workloads with one-line descriptions.

import type { Command } from 'commander';
import { listWorkloads } from '../hypervisor/workloads.js';

export function register(program: Command): void {
  program
    .command('workloads')
    .description('list the workloads `trace record` accepts')
    .action(() => {
      const ws = listWorkloads();
      const width = Math.max(...ws.map((w) => w.name.length));
      process.stdout.write(`${ws.map((w) => `${w.name.padEnd(width)}  ${w.description}`).join('\n')}\n`);
    });
}
