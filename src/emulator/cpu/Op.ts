// One decoded instruction: a record of plain numbers plus the handler that executes it. Every Op has the
// same shape (all fields set in the constructor) so that handler code stays monomorphic on it. Decoded
// once by iced-x86 (decodeCache.ts); executing it never calls into iced-x86's wasm.

import type { Cpu } from './Cpu.js';

export type Handler = (cpu: Cpu, op: Op) => void;
/** Computes the effective address of a memory operand into cpu.eaLo / cpu.eaHi. */
export type EaFn = (cpu: Cpu, op: Op) => void;

export class Op {
  fn: Handler;
  /** Name of the handler (template) for diagnostics. */
  name = '';
  /** Linear address of this instruction and of the next one, as canonical signed numbers. */
  addr = 0;
  next = 0;
  nextLo = 0;
  nextHi = 0;
  len = 0;
  /** Index of this instruction in its block: exact icount = cpu.icount + idx while the block runs. */
  idx = 0;
  /** Destination / first register operand (GPR number 0-15) and its byte shift (8 for AH..BH). */
  d = 0;
  dsh = 0;
  /** Source / second register operand and its byte shift. */
  s = 0;
  ssh = 0;
  /** Third register operand (or a spare). */
  t = 0;
  /** Immediate, as lo/hi words (sign- or zero-extended to the operand size as the encoding says). */
  imm = 0;
  immh = 0;
  /** Memory operand: base/index GPR (-1 none), scale as a shift, displacement lo/hi, FS/GS base (0/1/2). */
  ea: EaFn;
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  disph = 0;
  seg = 0;
  /** Branch target (canonical signed number). */
  target = 0;
  /** Condition code (low nibble of Jcc/SETcc/CMOVcc). */
  cc = 0;
  /** Operand size in bits. */
  size = 0;
  /** Free per-handler field (string-op flags, CR number, ...). */
  aux = 0;
  /** The instruction addresses memory through the stack segment (RSP/RBP base, PUSH/POP/CALL/RET...). */
  usesStack = false;
  /** iced-x86 Code value (for exits, diagnostics and the VMX layer). */
  code = 0;

  constructor(fn: Handler, ea: EaFn) {
    this.fn = fn;
    this.ea = ea;
  }
}
