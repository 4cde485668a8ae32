// The boot record: what the recorder stores in a trace's manifest (`extra.boot`) so that replay rebuilds the
// guest from the trace alone (its images, memory size, seed, script, device map), needing nothing outside it.

import { UserError } from '../errors.js';
import type { Workload } from '../hypervisor/workloads.js';
import type { TraceReader } from '../record/TraceReader.js';
import { kernelVersion } from '../hypervisor/linux/linuxGuest.js';

/** What the recorder stores in the manifest's `extra.boot` so replay needs nothing outside the trace. */
export interface BootRecord {
  memBytes: number;
  seed: number;
  diskSectors: number;
  script: string;
  /** Program names, in ramdisk order; each is an image of the trace. */
  programs: string[];
  /** Device names by port range, for the io table's `device` column. */
  devices: Array<[first: number, last: number, name: string]>;
  params: Record<string, string>;
  /** A Linux guest: its images are LINUX_IMAGES; the command line as the workload gave it (before tsc_early_khz). */
  linux?: { cmdline: string; run: string; version: string; witness?: boolean };
}

/** Image names of a Linux guest in a trace. */
export const LINUX_IMAGES = { vmlinuz: 'vmlinuz', initramfs: 'initramfs.cpio' } as const;

/** The boot record of a workload about to be recorded, with the live environment's device map. */
export function bootRecordOf(w: Workload, devices: BootRecord['devices']): BootRecord {
  const b: BootRecord = { memBytes: w.memBytes, seed: w.seed, diskSectors: w.diskSectors, script: w.script, programs: w.programs.map((p) => p.name), devices, params: w.params };
  if (w.linux !== undefined) {
    b.linux = { cmdline: w.linux.cmdline, run: w.linux.run, version: kernelVersion(w.linux.vmlinuz), ...(w.linux.witness === true ? { witness: true } : {}) };
  }
  return b;
}

/** Rebuild the workload a trace was recorded with from its manifest and images. */
export function workloadFromTrace(reader: TraceReader): { workload: Workload; boot: BootRecord } {
  const m = reader.manifest as unknown as { extra?: { boot?: BootRecord }; workload: { name: string; description: string } };
  const boot = m.extra?.boot;
  if (boot === undefined) throw new UserError(`${reader.dir}: the trace has no boot record (recorded by an older vmtrace?)`);
  const workload: Workload = {
    name: m.workload.name,
    description: m.workload.description,
    seed: boot.seed,
    memBytes: boot.memBytes,
    params: boot.params,
    kernel: reader.readImage(boot.linux !== undefined ? LINUX_IMAGES.vmlinuz : 'kernel.elf'),
    programs: boot.programs.map((name) => ({ name, bytes: reader.readImage(name) })),
    script: boot.script,
    packets: [],
    disk: new Uint8Array(0),
    diskSectors: boot.diskSectors,
    expect: [],
    source: `trace ${reader.dir}`,
  };
  if (boot.linux !== undefined) {
    workload.linux = {
      vmlinuz: workload.kernel, initramfs: reader.readImage(LINUX_IMAGES.initramfs), cmdline: boot.linux.cmdline, run: boot.linux.run,
      ...(boot.linux.witness === true ? { witness: true } : {}),
    };
  }
  return { workload, boot };
}
