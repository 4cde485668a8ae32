// The VM-exit information of an intercepted instruction (SDM 28.2.1): the exit qualification (and the
// guest-linear address) encoded by qualification.ts from the operands the decoder left in the Op, written into
// the VMCS that decided the exit.

import type { Cpu } from '../cpu/Cpu.js';
import { Exitable } from '../cpu/arch.js';
import type { Op } from '../cpu/Op.js';
import { CrAccessType, IoQual, LmswOperand, crAccessQualification, ioQualification, movDrQualification } from './qualification.js';
import type { Vmcs } from './Vmcs.js';
import { ioBytes, ioPort } from '../cpu/ops/portIo.js';

/**
 * The exit qualification (and guest-linear address) of an intercepted instruction (SDM 28.2.1), encoded by
 * vmx/qualification.ts from the operands the decoder left in the Op: op.aux holds the I/O and CR-access
 * qualification's low bits (IoQual, table 28-5; CR number, access type, LMSW operand type and GPR, table 28-3).
 */
export function instructionExitInformation(v: Vmcs, kind: Exitable, cpu: Cpu, op: Op): void {
  const a = op.aux;
  switch (kind) {
    case Exitable.io: {
      v.setExitQualification(ioQualification(ioPort(cpu, op), ioBytes(op),
        (a & IoQual.DIRECTION_IN) !== 0, (a & IoQual.STRING) !== 0, (a & IoQual.REP) !== 0, (a & IoQual.IMMEDIATE) !== 0));
      return;
    }
    case Exitable.movToCr: case Exitable.movFromCr: {
      const access = ((a >> 4) & 3) as CrAccessType;
      v.setExitQualification(access === CrAccessType.lmsw
        ? crAccessQualification(0, access, 0, (a & 64) !== 0 ? LmswOperand.memory : LmswOperand.register, op.imm)
        : crAccessQualification(a & 15, access, (a >> 8) & 15));
      return;
    }
    case Exitable.invlpg:
      // The qualification is the linear-address operand (28.2.1), also reported as the guest-linear address.
      v.setExitQualification(cpu.eaLo, cpu.eaHi);
      v.setGuestLinearAddress(cpu.eaLo, cpu.eaHi);
      return;
    case Exitable.movDr:
      // Table 28-4: op.aux holds the DR number (2:0), the direction (bit 4) and the GPR (11:8).
      v.setExitQualification(movDrQualification(a & 7, (a & 16) !== 0, (a >> 8) & 15));
      return;
    default:
      // CPUID, HLT, RDTSC(P), RDMSR, WRMSR, VMCALL, WBINVD, descriptor-table accesses: qualification 0.
      return;
  }
}
