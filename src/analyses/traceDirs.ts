// A trace directory, or a suite: a directory whose subdirectories are finished traces (one per workload,
// e.g. traces/suite/{syscall,pipe,...}). compare-interception, the exporters and the report take either.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { TraceFile } from '../record/schema.js';

/** Whether `dir` is itself a trace (finished or still recording). */
export function isTraceDir(dir: string): boolean {
  return existsSync(join(dir, TraceFile.manifest)) || existsSync(join(dir, TraceFile.incomplete));
}

/** The traces of `dir`: `[dir]` for a trace, else its subdirectories that are finished traces, sorted. */
export function traceDirs(dir: string): string[] {
  if (!existsSync(dir)) throw new UserError(`${dir}: no such trace directory`);
  if (isTraceDir(dir)) return [dir];
  const subs = readdirSync(dir).sort().map((d) => join(dir, d))
    .filter((d) => statSync(d).isDirectory() && existsSync(join(d, TraceFile.manifest)));
  if (subs.length === 0) throw new UserError(`${dir}: not a trace directory, and holds no finished traces`);
  return subs;
}
