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
import { decodeData } from './data.js';
import { decodeFpuControl } from './fpuControl.js';
import { decodeSseFloat } from './sseFloat.js';
import { decodeSseInt } from './sseInt.js';
import { decodeX87 } from './x87.js';
import { decodeDebugRegisters } from './debugRegisters.js';
import { decodeMulDiv } from './muldiv.js';
import { decodeShift } from './shift.js';
import { decodeString } from './string.js';
import { decodeSystem } from './system.js';

/** Handler of instructions we do not implement: #UD at execution (decoding never faults). */
export function undefinedOp(cpu: Cpu): void {
  throw cpu.fault.set(Vector.UD, 0);
}

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
    const str = decodeString(ins, op);
    if (str !== null) return str;
    const sys = decodeSystem(ins, op) ?? decodeDebugRegisters(ins, op);
    if (sys !== null) return sys;
    const fpu = decodeFpuControl(ins, op);
    if (fpu !== null) return fpu;
    if (decodeControl(ins, op) || decodeData(ins, op) || decodeAlu(ins, op) || decodeShift(ins, op) ||
      decodeMulDiv(ins, op) || decodeBit(ins, op) || decodeSseInt(ins, op) ||
      decodeSseFloat(ins, op) || decodeX87(ins, op)) return false;
  } catch {
    // An operand form a family does not support (e.g. a register class we do not model): #UD.
  }
  op.fn = undefinedOp;
  op.name = '(unsupported)';
  return true;
}
