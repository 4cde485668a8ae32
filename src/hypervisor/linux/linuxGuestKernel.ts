// A Linux kernel as the interception strategies see it (GuestKernel), all from the kernel's own image: the
// syscall entry by kallsyms (entry_SYSCALL_64: what syscall_init writes to LSTAR), syscall names from its
// sys_call_table, and a place for an injected handler.
//
// The place (seed 004 6.2: "the complication of finding a location in memory to put the handler into, setting
// up page tables and ensuring that guest memory management doesn't conflict with the mapping"): the gap
// between the end of kernel text (_etext) and the 2 MiB-aligned start of read-only data (__start_rodata;
// arch/x86/kernel/vmlinux.lds.S aligns it to HPAGE_SIZE). It is inside the kernel image, so (1) the kernel's
// own page tables map it executable in every address space (the high kernel mapping, large pages with
// __PAGE_KERNEL_LARGE_EXEC, shared by every process's top-level table) and (2) memblock keeps it reserved
// (_text.._end), so no allocator hands it out. Only mark_rodata_ro frees it ("unused kernel image
// (text/rodata gap)"), which runs unless the command line says rodata=off: without that the strategy refuses.
// The kernel runs at its link address: the 64-bit boot protocol enters startup_64 directly, and KASLR's
// relocation of the kernel is done by the decompressor we do not run.

import { UserError } from '../../errors.js';
import type { LinuxKernel } from '../../introspection/LinuxKernel.js';
import { SyscallTable } from '../../introspection/syscallTable.js';
import type { GuestKernel } from '../interception/Strategy.js';

const PAGE = 4096;

/** The text/rodata gap's first whole page (virtual and physical), or why there is none. */
export function textRodataGap(kernel: LinuxKernel, cmdline: string): { phys: number; virt: number; note: string } | { refused: string } {
  const etext = kernel.symbols.address('_etext');
  const rodata = kernel.symbols.address('__start_rodata');
  const virt = Math.ceil(etext / PAGE) * PAGE;
  if (virt + PAGE > rodata) return { refused: `no whole page between _etext (0x${hex(etext)}) and __start_rodata (0x${hex(rodata)})` };
  if (!/(^|\s)rodata=off(\s|$)/.test(cmdline)) {
    return { refused: `the text/rodata gap at 0x${hex(virt)} is freed by mark_rodata_ro at the end of boot unless the command line says rodata=off (it does not: "${cmdline}")` };
  }
  const seg = kernel.elf.segments.find((s) => virt >= s.vaddr && virt + PAGE <= s.vaddr + s.memsz);
  if (seg === undefined) return { refused: `the text/rodata gap at 0x${hex(virt)} is in no loadable segment of the image` };
  const phys = seg.paddr + (virt - seg.vaddr);
  return { phys, virt, note: `the handler page is the first page of the kernel's text/rodata gap (0x${hex(virt)}, physical 0x${phys.toString(16)}; _etext..__start_rodata ${rodata - virt + (virt - etext)} bytes), mapped executable by the kernel's own high mapping and never allocated with rodata=off` };
}

export function linuxGuestKernel(kernel: LinuxKernel, cmdline: string): GuestKernel {
  const table = SyscallTable.of(kernel);
  return {
    name: `Linux ${kernel.version.replace(/^Linux version /, '').split(' ')[0] ?? ''}`.trim(),
    injection: textRodataGap(kernel, cmdline),
    syscallEntry: { name: 'entry_SYSCALL_64', address: kernel.sym.entrySyscall64 },
    syscallNumber: (s) => {
      try {
        return table.number(s);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
    },
  };
}

function hex(a: number): string {
  return BigInt.asUintN(64, BigInt(a)).toString(16);
}
