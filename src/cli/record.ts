// `trace record [workload] [-o dir] [--exits preset] [--cost-model preset] [--seed n] [--max-instructions n]`

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TraceError, UserError } from '../errors.js';
import { runProgress } from './progress.js';
import { parseCount } from '../parseCount.js';
import { DEFAULT_WORKLOAD } from '../hypervisor/workloads.js';
import { DEFAULT_CHECKPOINT_EVERY, recordTrace } from '../replay/recordTrace.js';
import { SESSION_DEFAULTS } from '../replay/Session.js';
import { DEFAULT_COMPRESSION, parseCompression, TRACE_COMPRESSIONS } from '../record/compression.js';

const MIN_CHECKPOINT_EVERY = 1_000_000;

export function register(program: Command): void {
  program
    .command('record')
    .description('record a workload into a trace directory (default workload: mixed)')
    .argument('[workload]', 'workload name or description file, optionally name:key=value,...', DEFAULT_WORKLOAD)
    .option('-o, --out <dir>', 'trace directory (default traces/<workload>)')
    .option('--exits <preset>', 'exit-configuration preset', SESSION_DEFAULTS.exitPreset)
    .option('--cost-model <preset>', 'cost-model preset', SESSION_DEFAULTS.costModel)
    .option('--seed <n>', 'workload seed')
    .option('--max-instructions <n>', 'stop after this many guest instructions', String(SESSION_DEFAULTS.maxInstructions))
    .option('--max-exits <n>', 'stop after this many exits', String(SESSION_DEFAULTS.maxExits))
    .option('--overwrite', 'replace an existing trace at the output directory')
    .option('--intercept <strategy>', `syscall interception: none, double-swap, fill-the-gap, handler-injection, selective, nitro (default ${SESSION_DEFAULTS.intercept}; none for the linux workload)`)
    .option('--syscalls <list>', 'for --intercept selective: syscall names or numbers, comma-separated')
    .option('--no-log-syscalls', 'do not charge logging work per intercepted syscall (seed 004 "nolog")')
    .option('--checkpoint-every <n>', 'write a checkpoint for trace replay --from every this many instructions (0: none)', String(DEFAULT_CHECKPOINT_EVERY))
    .option('--compression <codec>', `compression of the tables, input log and checkpoints: ${TRACE_COMPRESSIONS.join(', ')}`, DEFAULT_COMPRESSION)
    .action(async (workload: string, o: { compression: string; out?: string; exits: string; costModel: string; seed?: string; maxInstructions: string; maxExits: string; overwrite?: boolean; intercept?: string; syscalls?: string; logSyscalls: boolean; checkpointEvery: string }) => {
      const base = workload.replace(/\.json$/, '').replace(/[:/\\].*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'trace';
      const dir = resolve(o.out ?? `traces/${base}`);
      // A checkpoint compares all of guest memory with the image (tens of ms): not more often than every 1M instructions.
      const checkpointEvery = parseCount('--checkpoint-every', o.checkpointEvery);
      if (checkpointEvery > 0 && checkpointEvery < MIN_CHECKPOINT_EVERY) {
        throw new UserError(`--checkpoint-every ${o.checkpointEvery}: expected 0 (no checkpoints) or at least ${MIN_CHECKPOINT_EVERY}`);
      }
      if (o.syscalls !== undefined && o.intercept !== 'selective') throw new UserError('--syscalls needs --intercept selective');
      const progress = runProgress(`record ${workload}`);
      let r;
      try {
        r = await recordTrace({
          workload, exitPreset: o.exits, costModel: o.costModel,
          seed: o.seed === undefined ? undefined : parseCount('--seed', o.seed),
          maxInstructions: parseCount('--max-instructions', o.maxInstructions, { min: 1 }),
          maxExits: parseCount('--max-exits', o.maxExits, { min: 1 }),
          intercept: o.intercept,
          syscalls: o.syscalls === undefined ? undefined : o.syscalls.split(',').filter((x) => x.length > 0),
          logSyscalls: o.logSyscalls,
        }, dir, { overwrite: o.overwrite === true, onProgress: (x, line) => progress.update(x, line), handleSignals: true, checkpointEvery,
          compression: parseCompression(o.compression) });
      } catch (e) {
        progress.done();
        if (e instanceof TraceError) throw new UserError(e.message);
        throw e;
      }
      progress.done();
      const m = r.manifest;
      const res = r.result;
      const lines = [
        `recorded ${m.workload.name} (seed ${m.seed}, exits ${m.exit_preset.name}, cost model ${m.cost_model.name}, interception ${r.assembled.config.intercept}) into ${dir}`,
        `  ${res.icount} guest instructions, ${res.exits} exits, ${m.totals.io} I/O accesses, ${m.totals.interrupts} interrupts, ${m.totals.ground_truth} ground-truth events`,
        `  ${m.complete ? 'complete' : 'INCOMPLETE'}: ${res.reason}${res.detail ? ` (${res.detail})` : ''}${res.reason === 'guest-exit' ? `, guest status ${res.status}` : ''}`,
        `  modelled cycles ${res.cycles}; see: trace info ${dir}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      if (!m.complete) process.exitCode = 3;
    });
}
