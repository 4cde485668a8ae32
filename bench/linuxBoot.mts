// One boot of the linux workload in a fresh process (bench/linux.bench.ts spawns it, so "process start" is
// this process's start): prints one JSON line with the kernel's instructions from its first instruction to
// "Run /init as init process" (the icount of the OUT that printed the line's last byte), the wall seconds
// from process start to then, and the emulation rate over the boot.

import { StopReason } from '../src/emulator/machine.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble, resolveWorkload } from '../src/replay/Session.js';

const RUN_INIT = 'Run /init as init process';
const run = process.argv[2] ?? 'syscall';
const limit = Number(process.argv[3] ?? 1_500_000_000);
const config = await resolveWorkload({ workload: `linux:run=${run}`, exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: limit });
const a = assemble(config, (m, w) => new LiveEnvironment(m, w));
const m = a.machine;
let atInit = -1;
let tail = '';
m.subscribe({
  onConsole: (b) => {
    if (atInit >= 0) return;
    tail = (tail + Buffer.from(b).toString('latin1')).slice(-200);
    if (tail.includes(RUN_INIT)) {
      atInit = m.cpu.ioIcount;
      m.stop(StopReason.interrupted, 0, 'reached /init');
    }
  },
});
const start = performance.now();
let r;
do r = m.run(m.cpu.icount + 20_000_000);
while (r.reason === StopReason.paused);
const end = performance.now();
process.stdout.write(`${JSON.stringify({
  reachedInit: atInit >= 0, bootInstructions: atInit, bootSeconds: end / 1000, runSeconds: (end - start) / 1000,
  icount: m.cpu.icount, executed: m.cpu.icount - m.haltedInstructions, reason: r.reason, detail: r.detail,
  lastLine: m.lastConsoleLine(),
})}\n`);
