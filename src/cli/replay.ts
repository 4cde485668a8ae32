// `trace replay <dir> [--exits preset]`: deterministic re-execution checked exit by exit.

import type { Command } from 'commander';
import { TraceError, UserError } from '../errors.js';
import { runProgress } from './progress.js';
import { parseCount } from '../parseCount.js';
import { replayTrace, type CutReplay } from '../replay/replayTrace.js';
import { TraceReader } from '../record/TraceReader.js';
import { exitReasonName } from '../emulator/vmx/exitReasons.js';

/** The recording's instruction count (the replay's progress total); undefined when the trace cannot be read (replay reports why). */
function recordedIcount(dir: string): number | undefined {
  try {
    return TraceReader.open(dir, { verify: false }).manifest.totals.icount; // for the progress bar; replay verifies
  } catch {
    return undefined;
  }
}

/** Where a killed recording was cut and what the replay could check of it. */
function cutNote(cut: CutReplay, endIcount: number, exitsOnDisk: number): string {
  const cutChunk = cut.cutBytes > 0 ? `; its last chunk, cut short, left out (${cut.cutBytes} bytes)` : '';
  return `  the recording was cut (its recorder never closed it: killed, or out of disk space): replayed to icount ${endIcount}, where its input ` +
    `log's ${cut.inputEntries} whole entries end${cutChunk}; ${exitsOnDisk - cut.unchecked} of the ${exitsOnDisk} exits on disk ` +
    `checked${cut.unchecked > 0 ? `, ${cut.unchecked} lie past that end` : ''}${cut.beyond > 0 ? `, ${cut.beyond} exits replayed after the last one on disk` : ''}`;
}

export function register(program: Command): void {
  program
    .command('replay')
    .description('replay a trace from its input log and check every exit against the recording')
    .argument('<dir>', 'trace directory')
    .option('--exits <preset>', 'replay under another exit configuration (recorded exits checked as a subsequence)')
    .option('--from <icount>', 'start from the latest checkpoint at or before this instruction count')
    .option('--intercept <strategy>', 'replay under another syscall-interception strategy (exits it does not cause checked as a subsequence)')
    .option('--syscalls <list>', 'for --intercept selective: syscall names or numbers, comma-separated')
    .option('--no-verify', 'do not check the trace files against the checksums in its manifest (faster; damage may go unnoticed)')
    .action(async (dir: string, o: { exits?: string; from?: string; intercept?: string; syscalls?: string; verify: boolean }) => {
      const from = o.from === undefined ? undefined : parseCount('--from', o.from);
      const progress = runProgress(`replay ${dir}`, recordedIcount(dir));
      let rep;
      try {
        rep = await replayTrace(dir, {
          verify: o.verify,
          exitPreset: o.exits, from, onProgress: (r) => progress.update(r), intercept: o.intercept,
          syscalls: o.syscalls?.split(',').filter((x) => x.length > 0),
        });
      } catch (e) {
        progress.done();
        if (e instanceof TraceError) throw new UserError(e.message);
        throw e;
      }
      progress.done();
      const out: string[] = [];
      if (rep.clean) {
        const start = rep.startIcount > 0 ? ` (from the checkpoint at icount ${rep.startIcount})` : '';
        const under = [rep.exitPreset, rep.intercept !== rep.recordedIntercept ? `interception ${rep.intercept}` : ''].filter((x) => x).join(', ');
        out.push(`replay clean${start}: ${rep.matched} of ${rep.recordedExits} recorded exits matched${rep.subsequence ? ` as a subsequence under ${under}` : ''}, ${rep.icount} guest instructions`);
        if (rep.skippedStrategyExits > 0) out.push(`  ${rep.skippedStrategyExits} recorded exits were the recording's interception (${rep.recordedIntercept}), not expected under ${rep.intercept}`);
        if (rep.subsequence) {
          const extra = [...rep.additional].sort((a, b) => a[0] - b[0]).map(([r, n]) => `${exitReasonName(r)} (${r}): ${n}`);
          out.push(`  additional exits under ${under}: ${extra.length === 0 ? 'none' : extra.join(', ')}`);
        }
        out.push(`  ${rep.syscalls} syscalls intercepted (${rep.intercept})`);
        if (rep.cut !== null) out.push(cutNote(rep.cut, rep.recordedIcount, rep.recordedExits));
      } else if (rep.inputDivergence !== null) {
        if (rep.cut !== null) out.push(cutNote(rep.cut, rep.recordedIcount, rep.recordedExits));
        out.push(`replay DIVERGED at icount ${rep.icount} (after ${rep.matched} matching exits): ${rep.inputDivergence}`);
      } else if (rep.divergence !== null) {
        if (rep.cut !== null) out.push(cutNote(rep.cut, rep.recordedIcount, rep.recordedExits));
        out.push(`replay DIVERGED: ${rep.divergence.message}`);
      } else {
        out.push(`replay DIVERGED: ended at icount ${rep.icount}, the recording at ${rep.recordedIcount}`);
      }
      process.stdout.write(`${out.join('\n')}\n`);
      if (!rep.clean) process.exitCode = 1;
    });
}
