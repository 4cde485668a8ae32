// The Linux guest's boot (issue 14): Debian's 6.1 kernel from its first instruction to "Run /init as init
// process" with the minimal command line (guest/images/linux/manifest.json), in a fresh process:
//   linux.boot_instructions  guest instructions from kernel entry to /init
//   linux.boot_s             wall seconds from process start (tsx, workload load, kernel unpack from the
//                            cache included) to /init, one run
//   linux.mips               instructions executed per second over the boot (the run loop only)
//   linux.qemu_tcg_ratio     our boot_s / QEMU TCG's seconds to /init of the same image and command line,
//                            measured right after ours (when qemu-system-x86_64 is installed)
//   linux.whetstone_mwips    linux:run=whetstone,loops=100 (issue 16: /bin/whet, SSE2, under Debian's kernel):
//                            MWIPS from the guest's own TSC reading around the benchmark (guest time derives
//                            from the instruction count: deterministic; the kernel's timer ticks during it
//                            count, as on hardware), 100,000 Whetstone instructions per loop as for
//                            cpu.whetstone_mwips on our guest. One more boot (~430 M instructions).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { figure } from './figure.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble, resolveWorkload, runSliced } from '../src/replay/Session.js';
import { qemuBootSeconds, qemuMissing } from '../test/helpers/linuxQemu.js';

interface Boot {
  reachedInit: boolean; bootInstructions: number; bootSeconds: number; runSeconds: number; icount: number; executed: number;
  reason: string; detail: string; lastLine: string;
}

export async function run(): Promise<void> {
  const child = join(import.meta.dirname, 'linuxBoot.mts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', child, 'syscall'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const b = JSON.parse(out.trim().split('\n').at(-1)!) as Boot;
  if (!b.reachedInit) {
    process.stdout.write(`linux: the boot did not reach /init: ${b.reason} (${b.detail}) at icount ${b.icount}; last console line: ${b.lastLine}\n`);
    figure('linux.mips', b.executed / b.runSeconds / 1e6, 'MIPS');
    return;
  }
  figure('linux.boot_instructions', b.bootInstructions, 'insns');
  figure('linux.boot_s', b.bootSeconds, 's');
  figure('linux.mips', b.executed / b.runSeconds / 1e6, 'MIPS');
  const missing = qemuMissing();
  if (missing !== null) process.stdout.write(`linux.qemu_tcg_ratio not measured: ${missing}\n`);
  else figure('linux.qemu_tcg_ratio', b.bootSeconds / (await qemuBootSeconds({ run: 'syscall' })), 'x');
  await whetstone();
}

/** linux.whetstone_mwips: MWIPS in guest time of /bin/whet under Linux (the header). */
async function whetstone(): Promise<void> {
  const loops = 100;
  const config = await resolveWorkload({ workload: `linux:run=whetstone,loops=${loops}`, exitPreset: 'kvm-default', costModel: 'modern' });
  const a = assemble(config, (m, w) => new LiveEnvironment(m, w));
  const t0 = performance.now();
  const r = await runSliced(a.machine, 20_000_000);
  const hostS = (performance.now() - t0) / 1000;
  const text = a.machine.consoleText();
  const cycles = /^whet: tsc cycles (\d+)/m.exec(text);
  if (r.reason !== 'guest-exit' || cycles === null || !text.includes(`whet: ${loops} loops, hash`)) {
    process.stdout.write(`linux.whetstone_mwips not measured: the run ended ${r.reason} (${r.detail}); last line: ${a.machine.lastConsoleLine()}\n`);
    return;
  }
  const guestSeconds = Number(cycles[1]) / a.costModel.tscHz;
  process.stdout.write(`linux whetstone ${loops} loops: ${cycles[1]} guest TSC cycles, whole run ${r.icount} instructions in ${hostS.toFixed(1)} s\n`);
  figure('linux.whetstone_mwips', (loops * 1e5) / guestSeconds / 1e6, 'MWIPS');
}
