// The Linux guest's boot (issue 14): Debian's 6.1 kernel from its first instruction to "Run /init as init
// process" with the minimal command line (guest/images/linux/manifest.json), in a fresh process:
//   linux.boot_instructions  guest instructions from kernel entry to /init
//   linux.boot_s             wall seconds from process start (tsx, workload load, kernel unpack from the
//                            cache included) to /init, one run
//   linux.mips               instructions executed per second over the boot (the run loop only)
//   linux.qemu_tcg_ratio     our boot_s / QEMU TCG's seconds to /init of the same image and command line,
//                            measured right after ours (when qemu-system-x86_64 is installed)

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { figure } from './figure.js';
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
  if (missing !== null) {
    process.stdout.write(`linux.qemu_tcg_ratio not measured: ${missing}\n`);
    return;
  }
  const qemu = await qemuBootSeconds({ run: 'syscall' });
  figure('linux.qemu_tcg_ratio', b.bootSeconds / qemu, 'x');
}
