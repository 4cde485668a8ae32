// The reconstruction the outputs show (Perfetto tracks, the report's per-process timeline), the same as
// `exits --by process` and proctrack's best strategy on our workloads: CR3 identity, stack-page threads,
// declared death with the address space an execve creates linked to the caller (docs/analyses.md). One
// pass over the trace feeds the tracker and the ground truth; the scorer matches them (for naming only).

import type { TraceReader } from '../record/TraceReader.js';
import { importTrace } from './importer.js';
import { DEFAULT_TRACKER, ProcessTracker } from './ProcessTracker.js';
import { GroundTruth, score, type Scores } from './truth.js';

export interface Reconstruction {
  tracker: ProcessTracker;
  truth: GroundTruth;
  scores: Scores;
  /** Last icount of the trace. */
  endIcount: number;
}

export function reconstruct(reader: TraceReader): Reconstruction {
  const m = reader.manifest;
  const tracker = new ProcessTracker({ ...DEFAULT_TRACKER, death: 'declared', expiration: 0, execLink: true });
  tracker.reserve(m.totals.exits, m.totals.syscalls, m.totals.io);
  const truth = new GroundTruth();
  const sum = importTrace(reader, [tracker, truth], { syscallArgs: false });
  tracker.finish(sum.icount);
  return { tracker, truth, scores: score(tracker, truth, sum.icount), endIcount: sum.icount };
}
