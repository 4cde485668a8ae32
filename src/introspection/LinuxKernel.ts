// What introspection knows about one Linux kernel, derived from its image alone: symbol addresses from its
// kallsyms tables, structure layouts from its BTF (found through the __start_BTF/__stop_BTF symbols, the same
// bytes /sys/kernel/btf/vmlinux serves), its version from linux_banner. No profile, no debug package, no
// guest agent: point it at a stock kernel image and it reads the kernel's process table.

import { Btf } from './Btf.js';
import { IntrospectionError } from './IntrospectionError.js';
import { Kallsyms } from './Kallsyms.js';
import { KernelElf } from './KernelElf.js';

/** Byte offsets into the structures the process-table readers use (all from BTF). */
export interface TaskLayout {
  /** struct task_struct */
  pid: number;
  tgid: number;
  comm: number;
  commSize: number;
  mm: number;
  activeMm: number;
  realParent: number;
  groupLeader: number;
  tasks: number;
  threadGroup: number;
  flags: number;
  exitState: number;
  threadSp: number;
  stack: number;
  /** struct mm_struct: pgd */
  mmPgd: number;
  /** struct linux_binprm: filename */
  binprmFilename: number;
  /** task_struct.signal -> signal_struct.live (threads of the group still alive) */
  signal: number;
  signalLive: number;
  /** struct pt_regs: size and the saved user RSP (the frame at the top of each task's kernel stack) */
  ptRegsSize: number;
  ptRegsSp: number;
  /** struct pt_regs: the saved RDI (a syscall's first argument) */
  ptRegsDi: number;
}

/** Kernel functions and variables introspection attaches to (kallsyms addresses, signed). */
export interface KernelSymbols {
  initTask: number;
  /** per-CPU variable: offset into the per-CPU area (address = GS base in kernel mode + this) */
  currentTask: number;
  /** page_offset_base: the direct map's base (a variable under KASLR; its value is read from memory) */
  pageOffsetBase: number;
  wakeUpNewTask: number;
  doExit: number;
  releaseTask: number;
  switchTo: number;
  doGroupExit: number;
  beginNewExec: number;
  setupNewExec: number;
  entrySyscall64: number;
  /** do_syscall_64(struct pt_regs *regs, int nr): every 64-bit system call, after entry_SYSCALL_64 saved the registers */
  doSyscall64: number;
}

export class LinuxKernel {
  private constructor(
    readonly elf: KernelElf,
    readonly symbols: Kallsyms,
    readonly btf: Btf,
    readonly version: string,
    readonly layout: TaskLayout,
    readonly sym: KernelSymbols,
  ) {}

  private static readonly cache = new WeakMap<Uint8Array, LinuxKernel>();

  /** The model of this vmlinux, parsed once per process (BTF and kallsyms take about a second). */
  static of(vmlinux: Uint8Array): LinuxKernel {
    let k = LinuxKernel.cache.get(vmlinux);
    if (k === undefined) {
      k = LinuxKernel.fromVmlinux(vmlinux);
      LinuxKernel.cache.set(vmlinux, k);
    }
    return k;
  }

  /** From the vmlinux ELF the bzImage carries. */
  static fromVmlinux(bytes: Uint8Array): LinuxKernel {
    const elf = KernelElf.parse(bytes, 'vmlinux');
    const text = elf.textSegment;
    const symbols = Kallsyms.fromImage(text.bytes);
    const start = symbols.address('__start_BTF');
    const stop = symbols.address('__stop_BTF');
    const btfBytes = elf.read(start, stop - start);
    if (btfBytes === null || stop <= start) throw new IntrospectionError(`vmlinux: __start_BTF..__stop_BTF (${stop - start} bytes) is not in the image`);
    const btf = Btf.parse(btfBytes);
    const banner = elf.read(symbols.address('linux_banner'), 512);
    const version = banner === null ? '' : new TextDecoder('latin1').decode(banner.subarray(0, Math.max(0, banner.indexOf(0)))).trim();
    return new LinuxKernel(elf, symbols, btf, version, taskLayout(btf), kernelSymbols(symbols));
  }
}

function taskLayout(btf: Btf): TaskLayout {
  const task = btf.struct('task_struct');
  const off = (path: string): number => btf.offsetOf(task, path);
  const comm = btf.member(task, 'comm');
  return {
    pid: off('pid'),
    tgid: off('tgid'),
    comm: comm.offset,
    commSize: comm.size,
    mm: off('mm'),
    activeMm: off('active_mm'),
    realParent: off('real_parent'),
    groupLeader: off('group_leader'),
    tasks: off('tasks'),
    threadGroup: off('thread_group'),
    flags: off('flags'),
    exitState: off('exit_state'),
    threadSp: off('thread.sp'),
    stack: off('stack'),
    mmPgd: btf.offsetOf('mm_struct', 'pgd'),
    binprmFilename: btf.offsetOf('linux_binprm', 'filename'),
    signal: off('signal'),
    signalLive: btf.offsetOf('signal_struct', 'live'),
    ptRegsSize: btf.sizeOf(btf.struct('pt_regs').id),
    ptRegsSp: btf.offsetOf('pt_regs', 'sp'),
    ptRegsDi: btf.offsetOf('pt_regs', 'di'),
  };
}

function kernelSymbols(k: Kallsyms): KernelSymbols {
  return {
    initTask: k.address('init_task'),
    currentTask: k.address('current_task'),
    pageOffsetBase: k.address('page_offset_base'),
    wakeUpNewTask: k.address('wake_up_new_task'),
    doExit: k.address('do_exit'),
    releaseTask: k.address('release_task'),
    switchTo: k.address('__switch_to'),
    doGroupExit: k.address('do_group_exit'),
    beginNewExec: k.address('begin_new_exec'),
    setupNewExec: k.address('setup_new_exec'),
    entrySyscall64: k.address('entry_SYSCALL_64'),
    doSyscall64: k.address('do_syscall_64'),
  };
}
