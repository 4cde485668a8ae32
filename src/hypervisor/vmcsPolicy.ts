// The machine's exit policy read from a VMCS: which intercepted instruction or event exits is decided by
// the VMCS's controls exactly as VT-x decides (the decision functions live with the Vmcs).

import type { Cpu } from '../emulator/cpu/Cpu.js';
import { Exitable } from '../emulator/cpu/arch.js';
import type { Op } from '../emulator/cpu/Op.js';
import type { ExitPolicy } from '../emulator/machine.js';
import { INSTRUCTION_EXIT_REASON } from '../emulator/vmx/exitReasons.js';
import { CrAccessType } from '../emulator/vmx/qualification.js';
import { NO_EXIT, type Vmcs } from '../emulator/vmx/Vmcs.js';
import { ioBytes, ioPort } from '../emulator/cpu/ops/portIo.js';

/** 2^X, the TSC-to-preemption-timer ratio this machine reports in IA32_VMX_MISC bits 4:0 (X = 5). */
export const PREEMPTION_TIMER_RATE = 32;

/** The exit policy of `vmcs`'s controls; the machine built with it fills the same VMCS's exit information. */
export function vmcsPolicy(vmcs: Vmcs, cyclesPerInstruction = 1): ExitPolicy {
  return {
    vmcs,
    instructionExitReason(kind: Exitable, cpu: Cpu, op: Op): number {
      switch (kind) {
        case Exitable.io: {
          return vmcs.ioCausesExit(ioPort(cpu, op), ioBytes(op)) ? INSTRUCTION_EXIT_REASON[kind] : NO_EXIT;
        }
        case Exitable.rdmsr:
          return vmcs.msrCausesExit(cpu.lo[1] >>> 0, false) ? INSTRUCTION_EXIT_REASON[kind] : NO_EXIT;
        case Exitable.wrmsr:
          return vmcs.msrCausesExit(cpu.lo[1] >>> 0, true) ? INSTRUCTION_EXIT_REASON[kind] : NO_EXIT;
        case Exitable.movToCr:
        case Exitable.movFromCr:
          return crAccessExits(vmcs, cpu, op) ? INSTRUCTION_EXIT_REASON[kind] : NO_EXIT;
        default: {
          // INVALID_OPCODE (RDTSCP disabled) is not an exit; the guest then sees #UD from the CPU model.
          const r = vmcs.instructionExitReason(kind);
          return r >= 0 ? r : NO_EXIT;
        }
      }
    },
    exceptionExits(vector: number, errorCode: number): boolean {
      return vmcs.exceptionCausesExit(vector, errorCode);
    },
    get externalInterruptExiting(): boolean {
      return vmcs.externalInterruptCausesExit();
    },
    get monitorTrapFlag(): boolean {
      return vmcs.monitorTrapFlag();
    },
    get preemptionTimerInstructions(): number {
      if (!vmcs.preemptionTimerActive()) return 0;
      // The timer counts down by one every 2^X TSC cycles (SDM 26.5.1; X = IA32_VMX_MISC[4:0], 5 here);
      // at one TSC cycle per instruction that is value x 32 instructions (at least one).
      return Math.max(1, vmcs.preemptionTimerValue * PREEMPTION_TIMER_RATE / cyclesPerInstruction);
    },
  };
}

/** MOV CR / CLTS / LMSW (op.aux: CR number in bits 3:0, access type in 5:4, GPR in 11:8; SDM table 28-3). */
function crAccessExits(vmcs: Vmcs, cpu: Cpu, op: Op): boolean {
  const cr = op.aux & 15;
  const access = ((op.aux >> 4) & 3) as CrAccessType;
  if (access === CrAccessType.lmsw) return vmcs.crAccessCausesExit(0, access, op.imm);
  if (access === CrAccessType.clts) return vmcs.crAccessCausesExit(0, access);
  if (cr === 2) return false; // CR2 accesses never exit
  const g = (op.aux >> 8) & 15;
  return vmcs.crAccessCausesExit(cr, access, cpu.lo[g], cpu.hi[g]);
}
