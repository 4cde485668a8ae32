// A Linux workload on the machine: unpack its kernel once (async, cached), then load it synchronously when
// a session assembles the machine. The command line's tsc_early_khz is the cost model's TSC frequency, so
// the kernel's idea of time (udelay, the clock) agrees with the machine's (TSC = icount x CPI).

import type { Workload } from '../workloads.js';
import { GuestLoadError } from '../loader.js';
import { parseBzImage } from './bzImage.js';
import { unpackVmlinux } from './unpack.js';
import { loadLinux, type LoadedLinux } from './loadLinux.js';

/** Unpack the workload's vmlinux if it is a Linux workload (no-op otherwise, or when already done). */
export async function prepareWorkload(w: Workload): Promise<void> {
  if (w.linux === undefined || w.linux.vmlinux !== undefined) return;
  w.linux.vmlinux = await unpackVmlinux(parseBzImage(w.linux.vmlinuz, 'vmlinuz'), 'vmlinuz');
}

/** The command line with tsc_early_khz set to the machine's TSC frequency (added if absent). */
export function linuxCmdline(cmdline: string, tscHz: number): string {
  const khz = `tsc_early_khz=${Math.round(tscHz / 1000)}`;
  // Only the kernel's part: what follows " -- " are /init's arguments (the workload's parameters).
  const dashes = cmdline.search(/(^|\s)--(\s|$)/);
  const kernel = dashes < 0 ? cmdline : cmdline.slice(0, dashes);
  const init = dashes < 0 ? '' : cmdline.slice(dashes);
  const k = /(^|\s)tsc_early_khz=\S*/.test(kernel) ? kernel.replace(/(^|\s)tsc_early_khz=\S*/, `$1${khz}`) : `${kernel} ${khz}`;
  return `${k}${init}`;
}

/** Load a prepared Linux workload into `ram`. */
export function loadLinuxWorkload(ram: Uint8Array, w: Workload, tscHz: number): LoadedLinux {
  const l = w.linux;
  if (l === undefined) throw new GuestLoadError(`workload ${w.name} is not a Linux workload`);
  if (l.vmlinux === undefined) throw new GuestLoadError(`workload ${w.name}: the kernel is not unpacked (call prepareWorkload first)`);
  return loadLinux(ram, {
    bz: parseBzImage(l.vmlinuz, 'vmlinuz'), vmlinux: l.vmlinux, initramfs: l.initramfs, cmdline: linuxCmdline(l.cmdline, tscHz), memBytes: w.memBytes,
  });
}

/** The kernel version string of a bzImage ('' if it has none), for manifests and `trace info`. */
export function kernelVersion(vmlinuz: Uint8Array): string {
  return parseBzImage(vmlinuz, 'vmlinuz').version;
}
