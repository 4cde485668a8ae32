// The files of a trace directory, relative to it and sorted (for comparing two recordings file by file).

import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function traceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
