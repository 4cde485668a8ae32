// The verifier's encoding rule (its first check): an instruction is accepted only if the engines execute it
// (isa.insnFault says they do not: the same message the engines fault with) and, beyond what the engines need,
// its unused fields are zero (RFC 9669 section 3: reserved fields "must be zero"), it never writes r10 (the
// read-only frame pointer, section 2.2) and an LDDW's second slot is well formed (section 5.4).

import { AluOp, AtomicOp, Cls, Mode, Op, Src, cls, insnFault, isAluClass, isJmpClass, type Insn } from './isa.js';

const WRITES_R10 = 'writes r10, the read-only frame pointer';

/** Why instruction i is not an encoding the verifier accepts, or undefined. */
export function encodingError(insns: readonly Insn[], i: number): string | undefined {
  const { opcode: op, dst, src, off, imm } = insns[i]!;
  const fault = insnFault(op, dst, src, off, imm, i + 1 < insns.length);
  if (fault !== undefined) return fault;
  const c = cls(op);
  const writes = (r: number): string | undefined => (r === 10 ? WRITES_R10 : undefined);
  if (isAluClass(c)) {
    const code = op & 0xf0;
    const isX = (op & Src.X) !== 0;
    // END: the source bit selects big-endian (section 4.2), not a source register
    if (code === AluOp.END) return src !== 0 || off !== 0 ? 'reserved fields of a byte swap are not zero' : writes(dst);
    if (code === AluOp.NEG && (src !== 0 || imm !== 0)) return 'neg takes no source operand';
    if (isX && imm !== 0) return 'imm must be zero for a register source';
    if (!isX && src !== 0) return 'src must be zero for an immediate source';
    // div/mod (signed: 1) and movsx (8/16/32) use the offset; insnFault has checked its value
    const usesOff = code === AluOp.DIV || code === AluOp.MOD || (code === AluOp.MOV && isX);
    if (!usesOff && off !== 0) return 'offset must be zero for this arithmetic instruction';
    return writes(dst);
  }
  if (isJmpClass(c)) {
    if (op === Op.EXIT) return dst | src | off | imm ? 'reserved fields of exit are not zero' : undefined;
    if (op === Op.JA) return dst | src | imm ? 'reserved fields of ja are not zero' : undefined;
    if (op === Op.JA32) return dst | src | off ? 'reserved fields of ja32 are not zero' : undefined;
    if (op === Op.CALL) return dst | off ? 'reserved fields of call are not zero' : undefined;
    if (op === Op.CALLX) return src | off | imm ? 'reserved fields of callx are not zero' : undefined;
    return (op & Src.X ? imm !== 0 : src !== 0) ? 'unused operand field of a conditional jump is not zero' : undefined;
  }
  if (c === Cls.LD) { // LDDW (insnFault: src 0, a second slot follows)
    if (off !== 0) return 'offset of lddw is not zero';
    const next = insns[i + 1]!;
    if (next.opcode !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) return 'the second slot of lddw is malformed';
    return writes(dst);
  }
  if (c === Cls.LDX) return imm !== 0 ? 'imm of a load is not zero' : writes(dst);
  if (c === Cls.ST) return src !== 0 ? 'src of st is not zero' : undefined;
  if ((op & 0xe0) === Mode.ATOMIC) {
    // FETCH and XCHG write the old value to src, CMPXCHG to r0 (section 5.3)
    const fetches = (imm & AtomicOp.FETCH) !== 0 && imm !== AtomicOp.CMPXCHG;
    return fetches ? writes(src) : undefined;
  }
  return imm !== 0 ? 'imm of stx is not zero' : undefined;
}
