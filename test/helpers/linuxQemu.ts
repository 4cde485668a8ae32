// The QEMU oracle for the Linux guest (guest/linux/README.md): boots the committed Debian kernel and initramfs
// with the same command line under Debian's qemu-system-x86_64 (TCG) and splits a console into the kernel's
// boot log and what the workload programs printed. The QEMU command line is the minimal machine of
// ../shared/notes/linux.md; `-icount shift=0,sleep=off` makes the run deterministic (one instruction per ns).
// QEMU enters the extracted vmlinux (linuxVmlinux.ts) through its PVH note (our loader uses the 64-bit entry of
// the same vmlinux).

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestDir } from '../../src/hypervisor/workloads.js';
import { linuxManifest as readManifest, vmlinuxPath, vmlinuxUnavailable } from './linuxVmlinux.js';

export const QEMU = 'qemu-system-x86_64';

export interface LinuxManifest {
  package: { name: string; version: string; sha256: string };
  kernel: { path: string; sha256: string; bytes: number; version: string; vmlinuxSha256: string; vmlinuxBytes: number };
  config: string;
  cmdline: string;
  initramfs: { path: string; sha256: string; bytes: number };
  programs: string[];
  workloads: Record<string, { script: string[]; files: string[]; expect: string[] }>;
}

export function linuxImagesDir(): string {
  return join(guestDir(), 'images', 'linux');
}

/** guest/images/linux/manifest.json with every field (linuxVmlinux.ts reads it; this names the rest). */
export function linuxManifest(): LinuxManifest {
  return readManifest() as unknown as LinuxManifest;
}

/** The command line for one workload: the manifest's minimal-machine line plus `run=NAME`. */
export function linuxCmdline(run?: string): string {
  const base = linuxManifest().cmdline;
  return run ? `${base} run=${run}` : base;
}

let missing: string | null | undefined;
/** null when qemu-system-x86_64 and xz run; otherwise why not (tests skip with this message). */
export function qemuMissing(): string | null {
  if (missing !== undefined) return missing;
  missing = vmlinuxUnavailable();
  if (missing === null) {
    try {
      execFileSync(QEMU, ['--version'], { stdio: 'ignore' });
    } catch {
      missing = `${QEMU} is not installed (Debian package qemu-system-x86; .ci/run installs it)`;
    }
  }
  return missing;
}

export interface BootOptions {
  /** The workload (`run=NAME` appended to the manifest's command line). */
  run?: string;
  /** A whole command line instead. */
  cmdline?: string;
  /** -icount shift=0,sleep=off (default true): deterministic, slower. */
  icount?: boolean;
  /** The power-off port at 0x500 (default true); without it /init ends through the kernel's restart. */
  powerPort?: boolean;
  memMiB?: number;
}

/**
 * The QEMU arguments for one boot, the console going to the file `serial`. (A file, not a pipe: QEMU's 16550
 * drops characters when a pipe reader falls behind, which happened on this loaded machine.)
 */
export function qemuArgs(serial: string, opts: BootOptions = {}): string[] {
  const cpu =
    'qemu64,vendor=GenuineIntel,family=6,model=58,stepping=9,-de,-mce,-mca,-mtrr,-pat,-pse36,-clflush,-sep,-pni,' +
    '-cx16,-lahf_lm,-svm,-apic,-hypervisor,-3dnowprefetch,-abm,-sse4a,-popcnt';
  return [
    '-M', 'pc,i8042=off,hpet=off,acpi=off,smbus=off,usb=off,vmport=off,sata=off',
    '-nodefaults', '-m', `${opts.memMiB ?? 256}M`, '-cpu', cpu,
    '-serial', `file:${serial}`, '-display', 'none', '-monitor', 'none', '-no-reboot',
    '-kernel', vmlinuxPath(), '-initrd', join(linuxImagesDir(), linuxManifest().initramfs.path),
    '-append', opts.cmdline ?? linuxCmdline(opts.run),
    // The CMOS clock at vmtrace's RTC epoch (2025-01-01, src/emulator/devices/Rtc.ts) and running on guest time.
    '-rtc', 'base=2025-01-01T00:00:00,clock=vm',
    ...(opts.icount === false ? [] : ['-icount', 'shift=0,sleep=off']),
    // Our machine's power-off port (docs/machine.md 0x500): QEMU's isa-debug-exit there ends QEMU with exit code
    // (status << 1) | 1 when /init writes its status, as our machine ends the run.
    ...(opts.powerPort === false ? [] : ['-device', 'isa-debug-exit,iobase=0x500,iosize=4']),
  ];
}

export interface QemuBoot {
  /** The whole serial console, as QEMU wrote it (CR LF from the tty). */
  console: string;
  /** Wall seconds from QEMU's start to the kernel's "Run /init" line (null if it never came). */
  toInitSeconds: number | null;
  /** Wall seconds until QEMU exited. */
  seconds: number;
  /** QEMU's exit code (0 after the triple fault under -no-reboot), or null if it had to be killed. */
  exitCode: number | null;
  /** The status /init wrote to the power-off port, modulo 128 (isa-debug-exit's exit code is (status << 1) | 1);
   *  null when the run did not end there. */
  powerOffStatus: number | null;
  timedOut: boolean;
}

/** Boots the Linux guest under QEMU and waits for it to end (the power-off port, or a triple fault under
 *  -no-reboot) or time out. */
export function bootQemu(opts: BootOptions & { timeoutMs?: number } = {}): Promise<QemuBoot> {
  const dir = mkdtempSync(join(tmpdir(), 'vmtrace-qemu-'));
  const serial = join(dir, 'console.txt');
  writeFileSync(serial, '');
  const args = qemuArgs(serial, opts);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const secs = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
    const child = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let toInit: number | null = null;
    let timedOut = false;
    // Watch the console file for "Run /init" (10 ms resolution) to time the boot.
    const fd = openSync(serial, 'r');
    let pos = 0;
    let tail = '';
    const chunk = Buffer.alloc(1 << 16);
    const poll = setInterval(() => {
      for (let n; (n = readSync(fd, chunk, 0, chunk.length, pos)) > 0; pos += n) tail = (tail + chunk.toString('latin1', 0, n)).slice(-256);
      if (tail.includes('Run /init as init process')) {
        toInit = secs();
        clearInterval(poll);
      }
    }, 10);
    const done = (): void => {
      clearInterval(poll);
      clearTimeout(timer);
      closeSync(fd);
    };
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 180_000);
    child.on('error', (e) => { done(); rmSync(dir, { recursive: true, force: true }); reject(e); });
    child.on('close', (code) => {
      done();
      const console = readFileSync(serial, 'utf8');
      rmSync(dir, { recursive: true, force: true });
      const powerOffStatus = opts.powerPort !== false && code !== null && code % 2 === 1 ? code >> 1 : null;
      if (code !== 0 && !timedOut && console.length === 0) reject(new Error(`${QEMU} failed (${code}): ${err.trim()}`));
      else resolve({ console, toInitSeconds: toInit, seconds: secs(), exitCode: code, powerOffStatus, timedOut });
    });
  });
}

/** Seconds from QEMU's start to "Run /init" for the given run (plain TCG, no icount unless asked): for
 *  FIGURE linux.qemu_tcg_ratio. */
export async function qemuBootSeconds(opts: { run?: string; icount?: boolean } = {}): Promise<number> {
  const b = await bootQemu({ run: opts.run ?? 'syscall', icount: opts.icount ?? false });
  if (b.toInitSeconds === null) throw new Error(`QEMU did not reach /init:\n${b.console.slice(-2000)}`);
  return b.toInitSeconds;
}

export interface SplitConsole {
  /** The kernel's messages up to and including "Run /init as init process", timestamps stripped. */
  bootLog: string[];
  /** Everything after that which is not a kernel message: what /init and the workload programs printed. */
  programOutput: string[];
  /** Kernel messages after "Run /init" (e.g. "reboot: Restarting system"), timestamps stripped. */
  lateKernelLog: string[];
}

const STAMP = /^\[\s*\d+\.\d+\] ?/;
const RUN_INIT = 'Run /init as init process';

/**
 * Splits a console (QEMU's or our emulator's console.txt) into the boot log and the program output. Kernel
 * messages carry a printk timestamp (CONFIG_PRINTK_TIME), program lines do not. CRs are dropped.
 */
export function splitConsole(text: string): SplitConsole {
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const bootLog: string[] = [];
  const programOutput: string[] = [];
  const lateKernelLog: string[] = [];
  let afterInit = false;
  for (const l of lines) {
    const kernel = STAMP.test(l);
    const bare = l.replace(STAMP, '');
    if (!afterInit) {
      bootLog.push(bare);
      if (kernel && bare === RUN_INIT) afterInit = true;
    } else if (kernel) lateKernelLog.push(bare);
    else programOutput.push(l);
  }
  return { bootLog, programOutput, lateKernelLog };
}

/** One line that differs between two logs: `-` only in the first, `+` only in the second (0-based indexes). */
export interface LineDiff {
  op: '-' | '+';
  index: number;
  line: string;
}

/**
 * The lines that differ between two logs, in order (a longest-common-subsequence diff): what a comparison of our
 * emulator's console with QEMU's lists. Empty when they are equal.
 */
export function diffLines(a: string[], b: string[]): LineDiff[] {
  const n = a.length, m = b.length;
  // lcs[i][j] = LCS length of a[i..], b[j..]; rows of Uint32Array (logs are a few hundred lines).
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: LineDiff[] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { i++; j++; }
    else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) { out.push({ op: '-', index: i, line: a[i]! }); i++; }
    else { out.push({ op: '+', index: j, line: b[j]! }); j++; }
  }
  return out;
}

/**
 * A boot-log line reduced to its structure: numbers (decimal, hex, addresses) masked as `#`, so that two boots
 * compare by the sequence of subsystem messages rather than by measured values (memory totals, BogoMIPS, ...).
 */
export function logStructure(line: string): string {
  return line.replace(/0x[0-9a-f]+|\d+(?:\.\d+)?/gi, (t) => (t.startsWith('0x') ? '0x#' : '#'));
}

/**
 * The comparison of issue 14: our emulator's console against QEMU's for the same run. `program`: the lines
 * of program output that differ (exact; with `unordered`, e.g. for `mixed`, whose worker lines follow the
 * scheduler, both sides sorted first); `bootLog`: the boot-log lines whose structure (logStructure) differs.
 */
export function compareConsoles(ours: string, qemu: string, opts: { unordered?: boolean } = {}): { program: LineDiff[]; bootLog: LineDiff[] } {
  const a = splitConsole(ours), b = splitConsole(qemu);
  const prog = (s: SplitConsole): string[] => (opts.unordered ? [...s.programOutput].sort() : s.programOutput);
  return {
    program: diffLines(prog(a), prog(b)),
    bootLog: diffLines(a.bootLog.map(logStructure), b.bootLog.map(logStructure)),
  };
}
