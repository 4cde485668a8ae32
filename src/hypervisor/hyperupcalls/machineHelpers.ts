// The hyperupcall helpers that need the machine (seed 003 Table 2): VCPU registers, IPIs, TLB flush, exit
// information, priority boost, and our free-page hint; bound into the eBPF helper table (ebpf/helpers.ts
// declares their ids and argument kinds, which the verifier checks).

import type { Machine } from '../../emulator/machine.js';
import { ExitWord, type ExitEvent } from '../../emulator/events.js';
import { EbpfFault } from '../ebpf/Memory.js';
import { HelperId, hyperupcallHelpers, tracePrintkImpl, type HelperRegistry } from '../ebpf/helpers.js';
import { toBig } from '../ebpf/u64.js';
import { ExitInfo, ExtraHelperId, VcpuReg } from './abi.js';
import type { Boost, Ipi } from './program.js';

/** What the helpers read from and record into the runtime. */
export interface HelperHost {
  readonly machine: Machine;
  readonly memBytes: number;
  /** Add a record for the running program, within its per-run limit (false: over it, nothing recorded). */
  record(log: 'traceLog', item: string): boolean;
  record(log: 'ipis', item: Ipi): boolean;
  record(log: 'boosts', item: Boost): boolean;
  /** Is the running program still within its per-run limit for `log`? */
  allows(log: 'traceLog' | 'ipis' | 'boosts'): boolean;
  /** The exit being handled (for get_exit_info), or null outside a VM-exit event. */
  readonly currentExit: ExitEvent | null;
  /** The program now running (for the records). */
  readonly running: number;
  /** Where hint_free_page reports go, or null outside a memory-pressure event. */
  readonly currentFree: number[] | null;
}

const TWO32 = 4294967296;
const MINUS1 = (1n << 64n) - 1n;

const ripOf = (e: ExitEvent): number => e.words[ExitWord.rip]! + e.words[ExitWord.rip + 1]! * TWO32;

/** The hyperupcall helper table with every helper implemented against `h`. */
export function machineHelpers(h: HelperHost): HelperRegistry {
  // trace_printk formats into a scratch log; its line is kept only within the limits
  const scratch: string[] = [];
  const reg = hyperupcallHelpers({ traceLog: scratch });
  const printk = tracePrintkImpl(scratch);
  reg.implement(HelperId.TRACE_PRINTK, (call) => {
    const n = printk(call);
    const line = scratch.pop()!;
    return h.record('traceLog', line) ? n : MINUS1;
  });
  const cpu = () => h.machine.cpu;
  reg.implement(HelperId.GET_VCPU_REGISTER, ({ args }) => {
    if (args[1] !== 0n) return MINUS1;
    const c = cpu();
    const n = Number(args[2] & 0xffn);
    if (args[2] < 16n) return toBig(c.lo[n]!, c.hi[n]!);
    const exit = h.currentExit;
    switch (Number(args[2] > 255n ? 255n : args[2])) {
      case VcpuReg.rip: return BigInt.asUintN(64, BigInt(exit !== null ? ripOf(exit) : c.rip));
      case VcpuReg.rflags: return BigInt(c.getRflags() >>> 0);
      case VcpuReg.cr0: return BigInt(c.cr0 >>> 0);
      case VcpuReg.cr3: return BigInt(c.cr3);
      case VcpuReg.cr4: return BigInt(c.cr4 >>> 0);
      default: return MINUS1;
    }
  });
  reg.implement(HelperId.SET_VCPU_REGISTER, ({ args }) => {
    if (args[1] !== 0n || args[2] >= 16n) return MINUS1;
    const c = cpu();
    const n = Number(args[2]);
    c.lo[n] = Number(args[3] & 0xffffffffn) | 0;
    c.hi[n] = Number(args[3] >> 32n) | 0;
    return 0n;
  });
  reg.implement(HelperId.SEND_VCPU_IPI, ({ args }) => {
    // Delivered: the vector is queued at the machine and injected at the next VM entry at which the guest
    // can take an interrupt (Machine.queueInterrupt; visible in interrupts.arrow like every injection).
    if (args[1] !== 0n || args[2] < 32n || args[2] > 255n) return MINUS1;
    const vector = Number(args[2]);
    if (!h.allows('ipis') || !h.machine.queueInterrupt(vector)) return MINUS1;
    h.record('ipis', { vector, icount: cpu().icount, program: h.running });
    return 0n;
  });
  reg.implement(HelperId.FLUSH_TLB_VCPU, ({ args }) => {
    if (args[1] !== 0n) return MINUS1;
    cpu().mmu.flushTlb();
    return 0n;
  });
  reg.implement(HelperId.GET_EXIT_INFO, ({ args }) => {
    const e = h.currentExit;
    if (e === null) return MINUS1;
    const w = e.words;
    switch (Number(args[1] > 255n ? 255n : args[1])) {
      case ExitInfo.reason: return BigInt(e.reason);
      case ExitInfo.qualification: return toBig(w[ExitWord.qualification]!, w[ExitWord.qualification + 1]!);
      case ExitInfo.instructionLength: return BigInt(e.instructionLength);
      case ExitInfo.guestLinear: return toBig(w[ExitWord.guestLinear]!, w[ExitWord.guestLinear + 1]!);
      case ExitInfo.guestPhysical: return toBig(w[ExitWord.guestPhysical]!, w[ExitWord.guestPhysical + 1]!);
      case ExitInfo.interruptionInfo: return BigInt(e.interruptionInfo >>> 0);
      case ExitInfo.seq: return BigInt(e.seq);
      case ExitInfo.icount: return BigInt(e.icount);
      default: return MINUS1;
    }
  });
  reg.implement(HelperId.PRIORITY_BOOST, ({ args }) => {
    const weight = Number(args[1] > 10000n ? 10000n : args[1]);
    const us = Number(args[2] > 10_000_000n ? 10_000_000n : args[2]);
    return h.record('boosts', { icount: cpu().icount, weight, durationUs: us }) ? 0n : MINUS1;
  });
  reg.register({
    id: ExtraHelperId.HINT_FREE_PAGE, name: 'hint_free_page', args: [{ kind: 'ctx' }, { kind: 'scalar' }],
    description: 'report a free guest page (guest-physical address) to the hypervisor',
    impl: ({ args }) => {
      const free = h.currentFree;
      if (free === null) throw new EbpfFault('hint_free_page outside a memory-pressure event');
      if ((args[1] & 0xfffn) !== 0n || args[1] >= BigInt(h.memBytes)) return MINUS1;
      if (free.length >= h.memBytes / 4096) return MINUS1; // no more reports than guest pages per event
      free.push(Number(args[1]));
      return 0n;
    },
  });
  return reg;
}
