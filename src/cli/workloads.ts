// `trace workloads`: the named workloads with one-line descriptions and their parameters (default, range).

import type { Command } from 'commander';
import { listWorkloads, workloadParams } from '../hypervisor/workloads.js';

export function register(program: Command): void {
  program
    .command('workloads')
    .description('list the workloads `trace record` accepts')
    .action(() => {
      const ws = listWorkloads();
      const width = Math.max(...ws.map((w) => w.name.length));
      const lines: string[] = [];
      for (const w of ws) {
        lines.push(`${w.name.padEnd(width)}  ${w.description}`);
        for (const [k, p] of workloadParams(w.name)) {
          const range = p.type === 'int' ? `${p.min}..${p.max}` : 'a word';
          lines.push(`${''.padEnd(width)}    ${w.name}:${k}=${p.default}  (${range}${p.about ? `: ${p.about}` : ''})`);
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
