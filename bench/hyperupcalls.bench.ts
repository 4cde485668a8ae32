// Host time of the hyperupcalls a guest registers (seed 003): per invocation, interpreted vs compiled, and
// verification time per program, over the programs of replayed `hyperupcall-trace` (tracing on every VM
// exit, free-page walk on memory pressure) and `hyperupcall-guard` (the write guard on WRMSR and CR-access
// exits) recordings. The analysis (`trace analyze <dir> hyperupcalls`) reports the modelled cycles; host
// times belong here. Each program runs on the context of its last invocation in the replay.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { ANY_EXIT, EVENT_NAMES, type HyperupcallProgram } from '../src/hypervisor/hyperupcalls/index.js';
import { EXIT_REASON_KEYS } from '../src/emulator/vmx/exitReasons.js';
import { verify } from '../src/hypervisor/ebpf/verifier.js';
import { figure } from './figure.js';

/** Figure name of a program: its event, or for the guard workload's reason-filtered programs guard-<reason>. */
function programName(workload: string, p: HyperupcallProgram): string {
  const event = EVENT_NAMES[p.event] ?? String(p.event);
  if (workload === 'hyperupcall-guard' && p.exitReason !== ANY_EXIT) return `guard-${(EXIT_REASON_KEYS[p.exitReason] ?? String(p.exitReason)).toLowerCase()}`;
  return event;
}

export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-bench-hu-'));
  try {
    const bench = new Bench({ time: 300, warmupTime: 50 });
    const names: string[] = [];
    for (const workload of ['hyperupcall-trace', 'hyperupcall-guard']) {
      const dir = join(root, workload);
      await recordTrace({ workload, exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0 });
      const rt = (await replayTrace(dir)).assembled.hyperupcalls;
      for (const p of rt.programs) {
        const name = programName(workload, p);
        if (names.includes(name)) continue;
        names.push(name);
        bench.add(`${name} interpreted`, () => rt.runScratch(p, 'interpreter', 1));
        bench.add(`${name} compiled`, () => rt.runScratch(p, 'compiled', 1));
        bench.add(`${name} verify`, () => {
          verify(p.insns, p.verifierOptions);
        });
      }
    }
    await bench.run();
    console.table(bench.table());
    const ms = (task: string): number => (bench.tasks.find((t) => t.name === task)?.result as { latency?: { mean: number } } | undefined)?.latency?.mean ?? NaN;
    for (const name of names) {
      figure(`hyperupcall.${name}.interpreted_ns`, ms(`${name} interpreted`) * 1e6, 'ns');
      figure(`hyperupcall.${name}.compiled_ns`, ms(`${name} compiled`) * 1e6, 'ns');
      figure(`hyperupcall.${name}.verify_ms`, ms(`${name} verify`), 'ms');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
