// One recording of linux:run=syscall (handler-injection) in a fresh process, with or without the ground-truth
// probes (bench/osi.bench.ts spawns it twice, so neither run inherits the other's warm JIT or caches): prints
// one JSON line with the recording's CPU seconds (user + system of this process over recordTrace, the kernel
// unpack from the disk cache included), its wall seconds, and its totals.

import { recordTrace } from '../src/replay/recordTrace.js';

const [dir, probes] = process.argv.slice(2);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await recordTrace({ workload: 'linux:run=syscall', exitPreset: 'kvm-default', costModel: 'modern', intercept: 'handler-injection', groundTruthProbes: probes === 'probes' }, dir!);
const wall = (performance.now() - t0) / 1000;
const c = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ cpuSeconds: (c.user + c.system) / 1e6, wallSeconds: wall, reason: r.result.reason, icount: r.result.icount, exits: r.result.exits, groundTruth: r.manifest.totals.ground_truth })}\n`);
