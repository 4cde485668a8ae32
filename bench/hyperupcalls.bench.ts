// Host time of the hyperupcalls a guest registers (seed 003): per invocation, interpreted vs compiled, and
// verification time per program, over the programs of a replayed `hyperupcall-trace` recording. The
// analysis (`trace analyze <dir> hyperupcalls`) reports the modelled cycles; host times belong here.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { recordTrace } from '../src/hypervisor/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { EVENT_NAMES, hyperupcallsOf } from '../src/hypervisor/hyperupcalls/index.js';
import { verify } from '../src/hypervisor/ebpf/verifier.js';
import { figure } from './figure.js';

export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-bench-hu-'));
  try {
    const dir = join(root, 't');
    await recordTrace({ workload: 'hyperupcall-trace', exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0 });
    const rt = hyperupcallsOf((await replayTrace(dir)).assembled.hypervisor);
    const bench = new Bench({ time: 300, warmupTime: 50 });
    for (const p of rt.programs) {
      const name = EVENT_NAMES[p.event] ?? String(p.event);
      bench.add(`${name} interpreted`, () => rt.runScratch(p, 'interpreter', 1));
      bench.add(`${name} compiled`, () => rt.runScratch(p, 'compiled', 1));
      bench.add(`${name} verify`, () => {
        verify(p.insns, p.verifierOptions);
      });
    }
    await bench.run();
    console.table(bench.table());
    const ms = (task: string): number => (bench.tasks.find((t) => t.name === task)?.result as { latency?: { mean: number } } | undefined)?.latency?.mean ?? NaN;
    for (const p of rt.programs) {
      const name = EVENT_NAMES[p.event] ?? String(p.event);
      figure(`hyperupcall.${name}.interpreted_ns`, ms(`${name} interpreted`) * 1e6, 'ns');
      figure(`hyperupcall.${name}.compiled_ns`, ms(`${name} compiled`) * 1e6, 'ns');
      figure(`hyperupcall.${name}.verify_ms`, ms(`${name} verify`), 'ms');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
