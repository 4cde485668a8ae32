// The one dispatch point from a decoded iced-x86 instruction to a handler: each family's decoder fills
// the Op (operands, size, handler) or declines. Anything no family accepts raises #UD when executed
// (SDM: an instruction the processor does not implement is an invalid opcode).

import { type Instruction, Code, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { decodeAlu } from './alu.js';
import { decodeBit } from './bit.js';
import { decodeControl } from './control.js';
import { decodeControlRegisters } from './controlRegisters.js';
import { decodeCpuidMsr } from './cpuidMsr.js';
import { decodeData } from './data.js';
import { decodeDescriptorTables } from './descriptorTables.js';
import { decodeFpuControl } from './fpuControl.js';
import { decodeSseConvert } from './sseConvert.js';
import { decodeSseFloat } from './sseFloat.js';
import { decodeSseInt } from './sseInt.js';
import { decodeSseRcp } from './sseRcp.js';
import { decodeX87 } from './x87.js';
import { decodeX87LoadStore } from './x87LoadStore.js';
import { decodeX87Special } from './x87Special.js';
import { decodeX87Transcendental } from './x87Transcendental.js';
import { decodeDebugRegisters } from './debugRegisters.js';
import { decodeMmx } from './mmx.js';
import { decodeMulDiv } from './muldiv.js';
import { UnsupportedForm } from './operands.js';
import { decodePortIo } from './portIo.js';
import { decodePrivilegeTransfer } from './privilegeTransfer.js';
import { decodeRflags } from './rflags.js';
import { decodeSegments } from './segments.js';
import { decodeShift } from './shift.js';
import { decodeString } from './string.js';

/** Handler of instructions we do not implement: #UD at execution (decoding never faults). */
export function undefinedOp(cpu: Cpu): void {
  throw cpu.fault.set(Vector.UD, 0);
}

/**
 * The families that decide per instruction whether it ends its block (it can exit, change paging, CPL or
 * IF, or leave RIP on itself, as REP string ops do): string, the system families, x87/SSE control. Each
 * returns null if `ins` is not one of its forms, else whether the instruction ends its block. They run
 * before the general families (MOV CR / MOV Sreg / PUSH Sreg are MOV and PUSH mnemonics).
 */
const ENDING_FAMILIES: ReadonlyArray<(ins: Instruction, op: Op) => boolean | null> = [
  decodeString, decodeCpuidMsr, decodePortIo, decodeRflags, decodePrivilegeTransfer, decodeControlRegisters,
  decodeDescriptorTables, decodeSegments, decodeDebugRegisters, decodeFpuControl,
];

/**
 * Fill `op` for `ins`. Returns true when the instruction must end its block (beyond what iced-x86's flow
 * control already says): system instructions, REP string instructions, and #UD.
 */
export function decodeInstruction(ins: Instruction, op: Op): boolean {
  if (ins.code === Code.INVALID) {
    op.fn = undefinedOp;
    op.name = '(invalid)';
    return true;
  }
  const base = ins.memoryBase;
  op.usesStack = ins.stackPointerIncrement !== 0 || base === Register.RSP || base === Register.RBP ||
    base === Register.ESP || base === Register.EBP;
  try {
    for (const family of ENDING_FAMILIES) {
      const ends = family(ins, op);
      if (ends !== null) return ends;
    }
    if (decodeControl(ins, op) || decodeData(ins, op) || decodeAlu(ins, op) || decodeShift(ins, op) ||
      decodeMulDiv(ins, op) || decodeBit(ins, op) || decodeSseInt(ins, op) || decodeMmx(ins, op) || decodeSseRcp(ins, op) ||
      decodeSseFloat(ins, op) || decodeSseConvert(ins, op) || decodeX87(ins, op) || decodeX87LoadStore(ins, op) || decodeX87Special(ins, op) ||
      decodeX87Transcendental(ins, op)) return false;
  } catch (e) {
    // Only a family's own "operand form we do not model" (a register class, a memory size) is a #UD; any
    // other exception (iced-x86 only throws on an invalid operand index or a non-immediate operand, i.e. on
    // our misuse) is a bug and propagates.
    if (!(e instanceof UnsupportedForm)) throw e;
  }
  op.fn = undefinedOp;
  op.name = '(unsupported)';
  return true;
}
