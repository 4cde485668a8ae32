// The QEMU oracle by hand: boots guest/images/linux under Debian's qemu-system-x86_64 (test/helpers/linuxQemu.ts)
// and prints what the workload programs printed, or the whole console. Usage:
//   npx tsx scripts/linux-qemu.mts [--console] [--no-icount] [RUN...]      (default RUN: syscall)
import { bootQemu, qemuMissing, splitConsole } from '../test/helpers/linuxQemu.js';

const args = process.argv.slice(2);
const whole = args.includes('--console');
const icount = !args.includes('--no-icount');
const runs = args.filter((a) => !a.startsWith('--'));
const why = qemuMissing();
if (why) {
  console.error(why);
  process.exit(2);
}
for (const run of runs.length ? runs : ['syscall']) {
  const b = await bootQemu({ run, icount });
  const s = splitConsole(b.console);
  console.log(`== ${run}: /init after ${b.toInitSeconds?.toFixed(2) ?? '-'} s, ended after ${b.seconds.toFixed(2)} s` +
    `${b.timedOut ? ' (timed out)' : ''}, power-off status ${b.powerOffStatus ?? '-'}, ${s.bootLog.length} boot-log lines`);
  if (whole) process.stdout.write(b.console);
  else for (const l of [...s.programOutput, ...s.lateKernelLog.map((k) => `[kernel] ${k}`)]) console.log(l);
}
